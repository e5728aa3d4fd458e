"""Therapy notes: drafts saved as the author types (a stale window is refused, nothing lost),
signing that locks the note with its content seal, addenda that keep the original, a trainee's
note co-signed by the supervisor, notes read by the care team only, emergency access with its
audit and the admin's review, and psychotherapy notes read by their author and by whom the
patient authorised in writing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kapclinic.accounts.roles import Role
from kapclinic.alerts.models import OutboxMessage
from kapclinic.audit.models import AuditEntry, ImmutableError
from kapclinic.treatment import emergency_access, note_actions
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.note_models import Note, NoteAddendum, NoteDraft, PsychotherapyNote
from tests.conftest import login, make_user, set_directly

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(patient, prescriber, therapist):
    """The patient with an assigned prescriber and therapist (their care team)."""
    set_directly(type(patient).objects.filter(pk=patient.pk), therapist=therapist)
    patient.refresh_from_db()
    return patient


def written(patient, author, *, kind="integration", key="k", text="Felt held by the music",
            sign=True):
    draft = note_actions.start_draft(patient=patient, kind=kind, by=author, key=key)
    field = "text" if kind == "psychotherapy" else draft.sections[0]["key"]
    draft = note_actions.save_draft(draft=draft, content={field: text}, part2=False,
                                    expected_version=draft.version, by=author)
    if not sign:
        return draft
    return note_actions.sign_draft(draft=draft, expected_version=draft.version, by=author)


# --- drafts and signing ----------------------------------------------------------------------

def test_the_draft_saves_as_the_author_types_and_a_stale_window_is_refused(team, therapist):
    draft = written(team, therapist, sign=False)
    client = login(therapist)
    url = f"/notes/drafts/{draft.pk}/autosave/"
    saved = client.post(url, {"version": draft.version, "s_themes": "Grief, the father"})
    assert saved.status_code == 200 and "Draft saved" in saved.content.decode()
    stale = client.post(url, {"version": draft.version, "s_themes": "An older tab"})
    assert stale.status_code == 409 and "another window" in stale.content.decode()
    draft.refresh_from_db()
    assert draft.content["themes"] == "Grief, the father"


def test_a_signed_note_is_sealed_locked_and_never_changes(team, therapist):
    note = written(team, therapist)
    assert note_actions.hash_holds(note)
    assert note.sections[0]["text"] == "Felt held by the music"
    with pytest.raises(ImmutableError):
        note.title = "Changed"
        note.save()
    with pytest.raises(ImmutableError):
        Note.objects.filter(pk=note.pk).update(title="Changed")
    draft = NoteDraft.objects.get(pk=note.draft_id)
    with pytest.raises(note_actions.NoteConflict):
        note_actions.save_draft(draft=draft, content={"themes": "rewritten"}, part2=False,
                                expected_version=draft.version, by=therapist)
    with pytest.raises(note_actions.NoteConflict):
        note_actions.sign_draft(draft=draft, expected_version=draft.version, by=therapist)
    assert Note.objects.count() == 1


def test_an_empty_note_is_not_signed(team, therapist):
    draft = note_actions.start_draft(patient=team, kind="progress", by=therapist, key="e")
    with pytest.raises(FieldError, match="empty"):
        note_actions.sign_draft(draft=draft, expected_version=draft.version, by=therapist)


def test_a_seal_that_no_longer_matches_is_shown(team, therapist):
    note = written(team, therapist)
    note.sections[0]["text"] = "tampered"
    assert not note_actions.hash_holds(note)


def test_signing_from_the_page_locks_the_note_and_leads_to_it(team, therapist):
    draft = written(team, therapist, sign=False)
    response = login(therapist).post(f"/notes/drafts/{draft.pk}/", {
        "version": draft.version, "s_themes": "Grief", "s_plan": "Session 3 Friday", "sign": "1"})
    note = Note.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/notes/{note.pk}/"
    page = login(therapist).get(f"/notes/{note.pk}/").content.decode()
    assert "Session 3 Friday" in page and "unchanged since signing" in page


def test_nobody_else_opens_an_authors_draft(team, therapist, prescriber):
    draft = written(team, therapist, sign=False, text="half a thought")
    response = login(prescriber).get(f"/notes/drafts/{draft.pk}/")
    assert response.status_code == 404 and b"half a thought" not in response.content


def test_the_same_start_sent_twice_starts_one_draft(team, therapist):
    first = note_actions.start_draft(patient=team, kind="preparation", by=therapist, key="same")
    again = note_actions.start_draft(patient=team, kind="preparation", by=therapist, key="same")
    assert first == again and NoteDraft.objects.count() == 1


# --- addenda and co-signing -------------------------------------------------------------------

def test_an_addendum_corrects_without_touching_the_note(team, therapist, prescriber):
    note = written(team, therapist)
    before = note.content_sha256
    addendum = note_actions.add_addendum(note=note, text="Correction: it was her mother.",
                                         by=prescriber, key="a1")
    assert note_actions.add_addendum(note=note, text="again", by=prescriber, key="a1") == addendum
    note.refresh_from_db()
    assert note.content_sha256 == before and note_actions.hash_holds(note)
    assert NoteAddendum.objects.filter(note=note).count() == 1
    page = login(therapist).get(f"/notes/{note.pk}/").content.decode()
    assert "Felt held by the music" in page and "it was her mother" in page


def test_a_trainees_note_waits_for_the_supervisors_co_signature(team, clinic_a, therapist,
                                                                clinic_admin):
    supervisor = make_user("supervisor", clinic_a, Role.THERAPIST, "Sam", "Senior")
    note_actions.start_supervision(clinic_id=clinic_a.pk, trainee=therapist, supervisor=supervisor,
                                   by=clinic_admin)
    note = written(team, therapist)
    assert note.cosigner == supervisor
    mine = login(supervisor).get("/notes/").content.decode()
    assert f"/notes/{note.pk}/" in mine
    with pytest.raises(Exception, match="Only the supervisor"):
        note_actions.cosign(note=note, by=therapist)
    note_actions.cosign(note=note, by=supervisor, comment="Agree")
    with pytest.raises(note_actions.NoteConflict, match="already co-signed"):
        note_actions.cosign(note=note, by=supervisor)


# --- the care team ------------------------------------------------------------------------------

def test_a_nurse_outside_the_care_team_cannot_read_the_note_and_the_attempt_is_audited(
        team, therapist, nurse):
    note = written(team, therapist)
    response = login(nurse).get(f"/notes/{note.pk}/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Felt held by the music" not in page and "Emergency access" in page
    assert AuditEntry.objects.filter(action="denied", object_type="note", object_id=str(note.pk),
                                     patient_id=team.pk).exists()
    chart = login(nurse).get(f"/patients/{team.pk}/").content.decode()
    assert "Read by the care team only" in chart and "Felt held by the music" not in chart


def test_the_coordinator_sees_the_chart_but_not_the_notes(team, therapist, coordinator):
    note = written(team, therapist)
    assert login(coordinator).get(f"/notes/{note.pk}/").status_code == 403
    chart = login(coordinator).get(f"/patients/{team.pk}/").content.decode()
    assert "Therapy notes" not in chart


def test_the_care_team_reads_the_note_with_the_read_audited(team, therapist, prescriber):
    note = written(team, therapist)
    page = login(prescriber).get(f"/notes/{note.pk}/").content.decode()
    assert "Felt held by the music" in page
    read = AuditEntry.objects.get(action="read", object_type="note", object_id=str(note.pk))
    assert "Assigned prescriber" in read.detail_json


# --- emergency access -----------------------------------------------------------------------------

def test_emergency_access_opens_the_notes_for_the_clinics_time_tells_the_team_and_waits_for_review(
        team, therapist, nurse, clinic_admin):
    therapist.email = "t@example.org"
    therapist.save()
    note = written(team, therapist)
    client = login(nurse)
    refused = client.post(f"/patients/{team.pk}/emergency-access/", {"reason": "", "explanation": ""})
    assert refused.status_code == 422
    form = client.get(f"/patients/{team.pk}/emergency-access/").content.decode()
    assert "60 minutes" in form
    opened = client.post(f"/patients/{team.pk}/emergency-access/", {
        "reason": "Patient in crisis or a medical emergency",
        "explanation": "Called at night, therapist unreachable"})
    assert opened.status_code == 302
    page = client.get(f"/notes/{note.pk}/").content.decode()
    assert "Felt held by the music" in page
    read = AuditEntry.objects.filter(action="read", object_type="note").latest("seq")
    assert "Emergency access" in read.detail_json
    email = OutboxMessage.objects.get(to="t@example.org")
    assert "emergency access" in email.body and "Patient in crisis" in email.body
    assert "Felt held" not in email.body and "therapist unreachable" not in email.body
    review = login(clinic_admin).get("/emergency-access/").content.decode()
    assert "Called at night" in review and "Felt held" not in review
    access = emergency_access.running_for(nurse, team)
    login(clinic_admin).post(f"/emergency-access/{access.pk}/review/", {"note": "Sound"})
    access.refresh_from_db()
    assert access.reviewed_by == clinic_admin


def test_emergency_access_ends_when_its_time_is_up(team, therapist, nurse):
    note = written(team, therapist)
    access = emergency_access.open_access(patient=team, reason="Other (explain below)",
                                          explanation="x", by=nurse, role="nurse", key="e1")
    set_directly(type(access).objects.filter(pk=access.pk),
                 started_at=timezone.now() - timedelta(hours=2),
                 expires_at=timezone.now() - timedelta(hours=1))
    assert login(nurse).get(f"/notes/{note.pk}/").status_code == 403


def test_emergency_access_needs_a_listed_reason_and_an_explanation(team, nurse):
    with pytest.raises(FieldError) as refused:
        emergency_access.open_access(patient=team, reason="Curious", explanation="x", by=nurse,
                                     role="nurse", key="e2")
    assert refused.value.field == "reason"
    with pytest.raises(FieldError) as refused:
        emergency_access.open_access(patient=team, reason="Other (explain below)", explanation=" ",
                                     by=nurse, role="nurse", key="e3")
    assert refused.value.field == "explanation"


# --- psychotherapy notes ------------------------------------------------------------------------------

def test_a_psychotherapy_note_is_read_by_its_author_only(team, therapist, prescriber, nurse):
    note = written(team, therapist, kind="psychotherapy", text="She spoke of the lake house")
    assert isinstance(note, PsychotherapyNote) and not Note.objects.exists()
    assert "lake house" in login(therapist).get(f"/psychotherapy-notes/{note.pk}/").content.decode()
    for other in (prescriber, nurse):
        response = login(other).get(f"/psychotherapy-notes/{note.pk}/")
        assert response.status_code == 404 and b"lake house" not in response.content
    chart = login(prescriber).get(f"/patients/{team.pk}/").content.decode()
    assert "lake house" not in chart
    basis = AuditEntry.objects.get(action="read", object_type="psychotherapy_note")
    assert '"author"' in basis.detail_json


def test_emergency_access_does_not_open_psychotherapy_notes(team, therapist, nurse):
    note = written(team, therapist, kind="psychotherapy", text="the lake house")
    emergency_access.open_access(patient=team, reason="Other (explain below)", explanation="x",
                                 by=nurse, role="nurse", key="e4")
    assert login(nurse).get(f"/psychotherapy-notes/{note.pk}/").status_code == 404


def test_a_written_authorization_opens_the_notes_of_its_period_until_it_is_revoked(
        team, therapist, prescriber):
    note = written(team, therapist, kind="psychotherapy", text="the lake house")
    today = timezone.localdate(timezone=team.clinic.zone)  # the clinic's day, as the app counts it
    client = login(therapist)
    response = client.post(f"/patients/{team.pk}/psychotherapy-notes/authorizations/", {
        "granted_to": prescriber.pk, "purpose": "Consultation on medication",
        "notes_from": today - timedelta(days=30), "notes_to": today,
        "signed_on": today, "expires_on": today + timedelta(days=90)})
    assert response.status_code == 302
    reader = login(prescriber)
    assert "lake house" in reader.get(f"/psychotherapy-notes/{note.pk}/").content.decode()
    read = AuditEntry.objects.filter(action="read", object_type="psychotherapy_note").latest("seq")
    assert "written authorization" in read.detail_json and read.actor_id == prescriber.pk
    granted = team.pk and note_actions.PsychotherapyAuthorization.objects.get()
    client.post(f"/psychotherapy-notes/authorizations/{granted.pk}/revoke/",
                {"reason": "Written revocation received"})
    assert reader.get(f"/psychotherapy-notes/{note.pk}/").status_code == 404


def test_an_authorization_covers_only_its_period_and_the_author_who_recorded_it(
        team, therapist, prescriber, clinic_a):
    note = written(team, therapist, kind="psychotherapy", text="the lake house")
    today = timezone.localdate(timezone=team.clinic.zone)  # the clinic's day, as the app counts it
    note_actions.record_authorization(
        patient=team, granted_to=prescriber, purpose="x", notes_from=today - timedelta(days=60),
        notes_to=today - timedelta(days=30), signed_on=today, expires_on=today + timedelta(days=9),
        by=therapist, key="old")
    assert login(prescriber).get(f"/psychotherapy-notes/{note.pk}/").status_code == 404
    # another therapist cannot grant anyone (themselves included) this therapist's notes
    other = make_user("other-therapist", clinic_a, Role.THERAPIST)
    note_actions.record_authorization(
        patient=team, granted_to=prescriber, purpose="x", notes_from=today, notes_to=today,
        signed_on=today, expires_on=today, by=other, key="o")
    assert login(prescriber).get(f"/psychotherapy-notes/{note.pk}/").status_code == 404
    with pytest.raises(FieldError, match="own notes"):
        note_actions.record_authorization(
            patient=team, granted_to=other, purpose="x", notes_from=today, notes_to=today,
            signed_on=today, expires_on=today, by=other, key="self")


def test_an_authorization_already_expired_is_refused(team, therapist, prescriber):
    today = timezone.localdate(timezone=team.clinic.zone)  # the clinic's day, as the app counts it
    with pytest.raises(FieldError) as refused:
        note_actions.record_authorization(
            patient=team, granted_to=prescriber, purpose="x", notes_from=today, notes_to=today,
            signed_on=today - timedelta(days=5), expires_on=today - timedelta(days=1),
            by=therapist, key="late")
    assert refused.value.field == "expires_on"


def test_exports_leave_out_part_2_notes_without_consent_and_never_hold_psychotherapy_notes(
        team, therapist, clinic_a):
    from kapclinic.treatment.note_exports import notes_for_export

    plain = written(team, therapist, key="plain")
    labelled = note_actions.start_draft(patient=team, kind="progress", by=therapist, key="sud")
    labelled = note_actions.save_draft(draft=labelled, content={"progress": "Alcohol use disorder"},
                                       part2=True, expected_version=labelled.version, by=therapist)
    labelled = note_actions.sign_draft(draft=labelled, expected_version=labelled.version, by=therapist)
    written(team, therapist, kind="psychotherapy", key="pn", text="the lake house")
    assert labelled.part2 and list(notes_for_export(clinic_a.pk)) == [plain]
    assert set(notes_for_export(clinic_a.pk, part2_consented={team.pk})) == {plain, labelled}


def test_booking_a_session_does_not_put_one_on_the_care_team(team, therapist, nurse):
    from kapclinic.treatment import actions as treatment

    note = written(team, therapist)
    treatment.schedule_session(patient=team, protocol="iv_racemic_ketamine",
                               scheduled_at=timezone.now(), by=nurse)
    assert login(nurse).get(f"/notes/{note.pk}/").status_code == 403


def test_the_supervisor_reads_the_trainees_note_to_co_sign_it(team, clinic_a, therapist, clinic_admin):
    supervisor = make_user("supervisor", clinic_a, Role.THERAPIST, "Sam", "Senior")
    note_actions.start_supervision(clinic_id=clinic_a.pk, trainee=therapist, supervisor=supervisor,
                                   by=clinic_admin)
    note = written(team, therapist)
    client = login(supervisor)
    assert "Felt held by the music" in client.get(f"/notes/{note.pk}/").content.decode()
    assert client.post(f"/notes/{note.pk}/cosign/", {"comment": "Agree"}).status_code == 302
    assert note_actions.NoteCosignature.objects.get(note=note).cosigned_by == supervisor


def test_a_supervisor_is_of_the_trainees_discipline_or_a_prescriber(clinic_a, nurse, therapist,
                                                                      prescriber, clinic_admin):
    with pytest.raises(FieldError, match="discipline"):
        note_actions.start_supervision(clinic_id=clinic_a.pk, trainee=nurse, supervisor=therapist,
                                       by=clinic_admin)
    assert note_actions.start_supervision(clinic_id=clinic_a.pk, trainee=nurse,
                                          supervisor=prescriber, by=clinic_admin)


def test_emergency_access_reads_but_does_not_write(team, therapist, nurse):
    emergency_access.open_access(patient=team, reason="Other (explain below)", explanation="x",
                                 by=nurse, role="nurse", key="w")
    client = login(nurse)
    assert "does not let you write" in client.get(f"/patients/{team.pk}/").content.decode()
    assert client.post(f"/patients/{team.pk}/notes/new/", {"kind": "progress"}).status_code == 403
    assert not NoteDraft.objects.filter(author=nurse).exists()
    again = emergency_access.open_access(patient=team, reason="Other (explain below)",
                                         explanation="y", by=nurse, role="nurse", key="w2")
    assert again.explanation == "x"  # the running access, not a second one


def test_pressing_sign_while_the_last_autosave_is_on_its_way_still_signs(team, therapist):
    draft = written(team, therapist, sign=False)
    stale = draft.version
    client = login(therapist)
    client.post(f"/notes/drafts/{draft.pk}/autosave/", {"version": stale, "s_themes": "Grief"})
    response = client.post(f"/notes/drafts/{draft.pk}/", {"version": stale, "s_themes": "Grief",
                                                          "sign": "1"})
    assert response.status_code == 302 and Note.objects.get().sections[0]["text"] == "Grief"


@pytest.mark.parametrize("field, dates", [
    ("expires_on", {"expires_on": "9999-12-31"}),
    ("notes_to", {"notes_to": "9999-12-31"}),
    ("notes_from", {"notes_from": "1900-01-01"}),
])
def test_an_authorizations_dates_out_of_bounds_are_refused_naming_the_field(
        team, therapist, prescriber, field, dates):
    from datetime import date

    today = timezone.localdate(timezone=team.clinic.zone)  # the clinic's day, as the app counts it
    values = {"notes_from": today, "notes_to": today, "signed_on": today,
              "expires_on": today + timedelta(days=30)}
    values.update({k: date.fromisoformat(v) for k, v in dates.items()})
    with pytest.raises(FieldError) as refused:
        note_actions.record_authorization(patient=team, granted_to=prescriber, purpose="x",
                                          by=therapist, key="d", **values)
    assert refused.value.field == field


def test_the_admin_edits_a_template_and_notes_already_started_keep_theirs(team, therapist,
                                                                           clinic_admin):
    started = note_actions.start_draft(patient=team, kind="progress", by=therapist, key="old")
    client = login(clinic_admin)
    saved = client.post("/notes/settings/", {"what": "template:progress", "progress-title": "Check-in",
                                             "progress-sections": "Mood | in their words\n[ ] Safety plan"})
    assert saved.status_code == 302
    fresh = note_actions.start_draft(patient=team, kind="progress", by=therapist, key="new")
    assert [s["label"] for s in fresh.sections] == ["Mood", "Safety plan", "Free text"]
    assert fresh.title == "Check-in" and started.title == "Progress note"
    bad = client.post("/notes/settings/", {"what": "template:progress", "progress-title": "X",
                                           "progress-sections": "A\nA"})
    assert bad.status_code == 422 and "repeats" in bad.content.decode()


def test_the_admin_sets_how_long_emergency_access_lasts(team, nurse, clinic_admin):
    client = login(clinic_admin)
    response = client.post("/notes/settings/", {"what": "emergency", "minutes": "30",
                                                "reasons": "Crisis\nOther"})
    assert response.status_code == 302
    access = emergency_access.open_access(patient=team, reason="Crisis", explanation="x", by=nurse,
                                          role="nurse", key="m")
    assert access.expires_at - access.started_at == timedelta(minutes=30)
    refused = client.post("/notes/settings/", {"what": "emergency", "minutes": "100000",
                                               "reasons": "Crisis"})
    assert refused.status_code == 422
