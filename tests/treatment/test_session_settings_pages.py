"""The session settings page, the protocols page and the clinic's REMS form details: what a
clinic chooses is checked against its allowed range, saved once, never lost to someone else's
save, used by the sessions booked after it, and never shown to another clinic."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.utils import timezone

from kapclinic.audit.models import AuditEntry
from kapclinic.clinical import protocols as core
from kapclinic.platform import idempotency
from kapclinic.treatment import actions, settings_actions, settings_catalog
from kapclinic.treatment.models import TreatmentSettings
from kapclinic.treatment.protocols import clinic_protocol, monitoring_settings
from kapclinic.treatment.rems_models import RemsFormDetails
from kapclinic.treatment.settings_forms import SessionSettingsForm
from tests.conftest import login, make_user
from tests.test_idempotency import token_from
from tests.test_plain_words import developer_words

URL = "/clinic/sessions/"
PROTOCOLS = "/clinic/protocols/"
REMS = "/clinic/rems/"
IV = "iv_racemic_ketamine"
CAP_09 = {"dose_cap": 0.9, "dose_range_max": 0.9}  # the range may not reach above the cap


def page_data(client, clinic, **changes: str) -> dict[str, str]:
    """Every field as the page shows it (with its one-time token), then ``changes``."""
    form = SessionSettingsForm(stored=TreatmentSettings.for_clinic(clinic.pk))
    data = {name: "" if (value := form.initial.get(name, field.initial)) is None else str(value)
            for name, field in form.fields.items()}
    data[idempotency.FORM_FIELD] = token_from(client.get(URL))
    return {**data, **changes}


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_an_admin_saves_a_preset_and_a_value_and_the_next_booked_session_uses_them(
        clinic_admin, clinic_a, patient, prescriber):
    before = actions.schedule_session(patient=patient, protocol=IV, scheduled_at=timezone.now(),
                                      by=prescriber)
    client = login(clinic_admin)
    saved = client.post(URL, page_data(client, clinic_a, **{
        f"{IV}--preset": "remote_kap", f"{IV}--dose_cap": "0.8", f"{IV}--dose_range_max": "0.8"}),
        follow=True)
    assert saved.status_code == 200
    assert "Session settings saved" in saved.content.decode()
    after = actions.schedule_session(patient=patient, protocol=IV, scheduled_at=timezone.now(),
                                     by=prescriber)
    assert after.protocol_settings["preset"] == "remote_kap"
    assert after.protocol_settings["values"]["dose_cap"] == 0.8
    assert after.protocol_settings["values"]["min_observation_minutes"] == 120  # from the preset
    assert clinic_protocol(IV, clinic_a.pk).cap == 0.8
    before.refresh_from_db()
    assert before.protocol_settings == {"values": {}, "preset": None}  # booked before: unchanged
    entry = AuditEntry.objects.filter(object_type="treatment_settings", action="update").get()
    assert json.loads(entry.detail_json)["changes"][f"protocol_settings.{IV}.dose_cap"] == [None, 0.8]


def test_a_value_outside_its_allowed_range_is_refused_naming_the_field_and_the_range(
        clinic_admin, clinic_a):
    client = login(clinic_admin)
    refused = client.post(URL, page_data(client, clinic_a, **{f"{IV}--dose_cap": "1.5"}))
    page = text_of(refused)
    assert refused.status_code == 422
    assert "Not saved." in page
    assert "Hard cap, mg/kg" in page and "1.5 mg/kg is outside the allowed range: 0.1 to 1 mg/kg." in page
    assert not TreatmentSettings.objects.exists()


def test_a_range_reaching_above_the_cap_is_refused_on_the_range_field(clinic_admin, clinic_a):
    client = login(clinic_admin)
    refused = client.post(URL, page_data(client, clinic_a, **{
        f"{IV}--dose_cap": "0.7", f"{IV}--dose_range_max": "0.9"}))
    page = text_of(refused)
    assert refused.status_code == 422
    assert "Highest dose of the clinic" in page and "0.9 is above the hard cap 0.7 mg/kg" in page
    assert not TreatmentSettings.objects.exists()


def test_the_save_action_refuses_an_out_of_range_value_whoever_calls_it(clinic_a, clinic_admin):
    with pytest.raises(settings_actions.SettingsError) as refused:
        settings_actions.save_session_settings(
            clinic_id=clinic_a.pk, values={"monitoring_values": {"during_spo2_below_pct": 40}},
            by=clinic_admin, expected_version=1)
    assert refused.value.field == "monitoring.during_spo2_below_pct"
    assert "50-100" in refused.value.message
    with pytest.raises(settings_actions.SettingsError):
        settings_actions.save_session_settings(clinic_id=clinic_a.pk,
                                               values={"late_entry_minutes": 2},
                                               by=clinic_admin, expected_version=1)


def test_a_save_from_a_page_opened_before_someone_elses_save_is_refused_keeping_what_was_typed(
        clinic_admin, clinic_a, prescriber):
    client = login(clinic_admin)
    typed = page_data(client, clinic_a, **{f"{IV}--dose_cap": "0.7", f"{IV}--dose_range_max": "0.7",
                                           "rooms": "Garden room: Recliner 1, Recliner 2"})
    settings_actions.save_session_settings(clinic_id=clinic_a.pk, values={
                                               "protocol_settings": {IV: CAP_09}},
                                           by=prescriber, expected_version=1)
    refused = client.post(URL, typed)
    page = text_of(refused)
    assert refused.status_code == 409
    assert "changed by someone else" in page and "nothing was saved" in page
    assert 'value="0.7"' in page and "Garden room: Recliner 1, Recliner 2" in page
    assert clinic_protocol(IV, clinic_a.pk).cap == 0.9  # theirs, not overwritten
    # the form now carries the current version: saving again is a deliberate choice
    assert re.search(r'name="version" value="2"', page)
    again = client.post(URL, {**typed, "version": "2",
                              idempotency.FORM_FIELD: token_from(client.get(URL))})
    assert again.status_code == 302
    assert clinic_protocol(IV, clinic_a.pk).cap == 0.7


def test_a_double_posted_save_is_saved_once(clinic_admin, clinic_a):
    client = login(clinic_admin)
    data = page_data(client, clinic_a, late_entry_minutes="30")
    first = client.post(URL, data)
    second = client.post(URL, data, follow=True)
    assert first.status_code == 302
    assert second.status_code == 200 and "saved once, not twice" in second.content.decode()
    assert TreatmentSettings.for_clinic(clinic_a.pk).version == 2
    assert TreatmentSettings.for_clinic(clinic_a.pk).late_entry_minutes == 30
    assert AuditEntry.objects.filter(object_type="treatment_settings").count() == 1


def test_rooms_and_chairs_are_saved_one_room_a_line(clinic_admin, clinic_a):
    client = login(clinic_admin)
    client.post(URL, page_data(client, clinic_a, rooms="Room 1: A, B\n\nQuiet room"))
    assert TreatmentSettings.for_clinic(clinic_a.pk).rooms == [
        {"name": "Room 1", "chairs": ["A", "B"]}, {"name": "Quiet room", "chairs": []}]
    refused = client.post(URL, page_data(client, clinic_a, rooms="Room 1: A\nroom 1: B"))
    assert refused.status_code == 422 and "listed twice" in refused.content.decode()


def test_a_monitoring_preset_and_a_value_set_the_clinics_thresholds(clinic_admin, clinic_a):
    client = login(clinic_admin)
    client.post(URL, page_data(client, clinic_a, **{
        "monitoring--preset": "remote_kap", "monitoring--during_heart_rate_above_bpm": "115"}))
    chosen = monitoring_settings(clinic_a.pk)
    assert chosen.preset == "remote_kap"
    assert chosen.values["predose_hold_sbp_above_mmhg"] == 160  # the preset
    assert chosen.values["during_heart_rate_above_bpm"] == 115  # the clinic's own value


def test_a_nurse_cannot_open_session_settings_and_the_refusal_is_audited(nurse):
    client = login(nurse)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {}).status_code == 403
    assert client.get(REMS).status_code == 403
    denied = AuditEntry.objects.filter(action="denied", object_id="session.settings")
    assert denied.count() == 3
    assert client.get(PROTOCOLS).status_code == 200  # reading the protocols is allowed


def test_another_clinics_settings_are_never_shown_or_changed(clinic_admin, clinic_a, clinic_b):
    other_admin = make_user("admin-b", clinic_b, "admin")
    settings_actions.save_session_settings(
        clinic_id=clinic_b.pk, by=other_admin, expected_version=1,
        values={"rooms": [{"name": "Harbour suite", "chairs": []}],
                "protocol_settings": {IV: {"dose_cap": 0.65, "dose_range_max": 0.65}}})
    settings_actions.save_rems_details(clinic_id=clinic_b.pk, by=other_admin,
                                       expected=settings_actions.rems_fingerprint(
                                           RemsFormDetails.for_clinic(clinic_b.pk)),
                                       values={"address": "1 Quay Street"})
    client = login(clinic_admin)
    for url in (URL, PROTOCOLS, REMS):
        page = text_of(client.get(url))
        assert "Harbour suite" not in page and "0.65" not in page and "1 Quay Street" not in page
    client.post(URL, page_data(client, clinic_a, rooms="Room A"))
    assert TreatmentSettings.for_clinic(clinic_b.pk).rooms == [{"name": "Harbour suite", "chairs": []}]
    assert clinic_protocol(IV, clinic_b.pk).cap == 0.65


@pytest.fixture
def clinic_folder(tmp_path: Path, monkeypatch):
    """A clinic protocol folder holding a slower IV protocol of its own."""
    data = json.loads((core.definitions.DATA_DIR / f"{IV}.json").read_text())
    data.update(id="clinic_slow_iv", label="Slow IV racemic ketamine, clinic protocol")
    (tmp_path / "clinic_slow_iv.json").write_text(json.dumps(data))
    monkeypatch.setenv(core.definitions.CLINIC_DIR_ENV, str(tmp_path))
    core.load_all.cache_clear()
    yield tmp_path
    monkeypatch.delenv(core.definitions.CLINIC_DIR_ENV)
    core.load_all.cache_clear()


def test_the_protocol_list_shows_a_protocol_from_the_clinics_folder(clinic_folder, nurse,
                                                                    clinic_admin, clinic_a):
    page = text_of(login(nurse).get(PROTOCOLS))
    assert "Slow IV racemic ketamine, clinic protocol" in page and "Clinic's own" in page
    assert "Intranasal esketamine (Spravato)" in page and "28–84 mg" in page
    assert "KAPCLINIC_PROTOCOLS_DIR" in page and "(set on this server)" in page
    # and its settings are the clinic's to change like any other's
    client = login(clinic_admin)
    client.post(URL, page_data(client, clinic_a, **{"clinic_slow_iv--infusion_minutes": "60"}))
    assert clinic_protocol("clinic_slow_iv", clinic_a.pk).infusion_minutes == 60


def test_the_protocol_list_shows_the_clinics_own_range_and_cap(clinic_admin, clinic_a, nurse):
    settings_actions.save_session_settings(clinic_id=clinic_a.pk, by=clinic_admin,
                                           expected_version=1,
                                           values={"protocol_settings": {IV: CAP_09}})
    page = text_of(login(nurse).get(PROTOCOLS))
    assert "0.5–0.9 mg/kg" in page and "0.5–1 mg/kg" not in page


def test_the_settings_and_protocol_pages_speak_plain_clinical_language(clinic_admin):
    client = login(clinic_admin)
    assert developer_words(client.get(URL).content.decode()) == []
    assert developer_words(client.get(REMS).content.decode()) == []
    # the protocols page shows each protocol's id and file name for the API and CLI on purpose
    assert developer_words(client.get(PROTOCOLS).content.decode(), ids=False) == []


def test_every_setting_of_every_protocol_is_on_the_page(clinic_admin):
    page = login(clinic_admin).get(URL).content.decode()
    for pid, protocol in core.load_all().items():
        for name in protocol.settings:
            assert f'name="{pid}--{name}"' in page
    for name in settings_catalog.monitoring_setting_rows():
        assert f'name="monitoring--{name}"' in page


# ---- the REMS form details -------------------------------------------------------------

def rems_data(client, **changes: str) -> dict[str, str]:
    page = client.get(REMS).content.decode()
    fingerprint = re.search(r'name="fingerprint" value="([^"]+)"', page).group(1)
    return {"setting_name": "", "address": "12 Elm Street", "city": "Springfield", "state": "IL",
            "zip_code": "62701", "form_version": "2021", "remind_after_days": "5",
            "fingerprint": fingerprint, idempotency.FORM_FIELD: token_from_page(page), **changes}


def token_from_page(html: str) -> str:
    return re.search(rf'name="{idempotency.FORM_FIELD}" value="([^"]+)"', html).group(1)


def test_the_clinics_rems_details_are_saved_and_checked(clinic_admin, clinic_a):
    client = login(clinic_admin)
    assert "Not filled in yet:" in text_of(client.get(REMS))
    refused = client.post(REMS, rems_data(client, zip_code="6270", remind_after_days="7"))
    page = text_of(refused)
    assert refused.status_code == 422
    assert "A 5-digit ZIP code" in page and "Allowed: 1 to 6 days." in page
    assert client.post(REMS, rems_data(client)).status_code == 302
    details = RemsFormDetails.for_clinic(clinic_a.pk)
    assert (details.address, details.city, details.state, details.zip_code) == (
        "12 Elm Street", "Springfield", "IL", "62701")
    assert AuditEntry.objects.filter(object_type="rems_form_details", action="create").count() == 1


def test_rems_details_saved_from_a_page_opened_before_another_save_are_refused(
        clinic_admin, clinic_a, prescriber):
    client = login(clinic_admin)
    typed = rems_data(client, address="9 Oak Avenue")
    settings_actions.save_rems_details(clinic_id=clinic_a.pk, by=prescriber,
                                       expected=typed["fingerprint"],
                                       values={"address": "3 Pine Road"})
    refused = client.post(REMS, typed)
    page = text_of(refused)
    assert refused.status_code == 409 and "9 Oak Avenue" in page
    assert RemsFormDetails.for_clinic(clinic_a.pk).address == "3 Pine Road"


def test_a_rems_form_without_the_clinics_address_links_to_where_it_is_typed_once(
        patient, prescriber, nurse, clinic_a):
    from tests.treatment.test_rems_form import esketamine_session

    s = esketamine_session(patient, prescriber, nurse)
    form_page = f"/sessions/{s.pk}/rems/"
    assert f'href="{REMS}"' in login(prescriber).get(form_page).content.decode()
    told = text_of(login(nurse).get(form_page))  # may not change them: told who can
    assert f'href="{REMS}"' not in told and "a prescriber or the clinic admin fills it in" in told
    settings_actions.save_rems_details(
        clinic_id=clinic_a.pk, by=prescriber,
        expected=settings_actions.rems_fingerprint(RemsFormDetails.for_clinic(clinic_a.pk)),
        values={"address": "12 Elm Street", "city": "Springfield", "state": "IL",
                "zip_code": "62701"})
    filled = text_of(login(prescriber).get(form_page))
    assert "12 Elm Street" in filled and f'href="{REMS}"' not in filled


def test_every_source_of_every_protocol_and_rule_reads_without_reference_jargon():
    from kapclinic.treatment.settings_words import plain
    from tests.test_plain_words import PATTERNS

    rows = [row for p in core.load_all().values() for group in settings_catalog.protocol_groups(p)
            for row in group.rows] + list(settings_catalog.monitoring_setting_rows().values())
    texts = [t for row in rows for t in (row.label, row.says, row.source_words, row.bounds_source)]
    texts += [t for p in core.load_all().values() for t in
              (*settings_catalog.protocol_view(p).citations, settings_catalog.protocol_view(p).note)]
    assert plain("clinical.md 3.4 TRD dosing: weeks 1-4 twice weekly [unverified]") == (
        "Spravato (esketamine) US label, TRD dosing: weeks 1-4 twice weekly (reported, not confirmed)")
    found = {t: m.group(0) for t in texts for p in PATTERNS if (m := p.search(t))}
    assert found == {}


def test_an_admin_sets_the_courses_therapy_timing_and_the_next_planned_course_follows_it(
        clinic_admin, clinic_a, patient, prescriber):
    from kapclinic.treatment import course_actions
    from tests.treatment.test_courses import next_monday_9am

    client = login(clinic_admin)
    client.post(URL, page_data(client, clinic_a, preparation_days_before="2",
                               integration_days_after="0", course_open_weeks="4"))
    course = course_actions.plan_course(patient=patient, protocol=IV, first_dose_at=next_monday_9am(),
                                        by=prescriber)
    first = course.sessions.order_by("scheduled_at").first()
    assert (first.scheduled_at - course.therapy_visits.get(kind="preparation").scheduled_at).days == 2
    assert course.therapy_visits.get(dose_session=first).scheduled_at == first.scheduled_at


def test_a_course_timing_beyond_its_bounds_is_refused_with_the_allowed_range(clinic_admin, clinic_a):
    client = login(clinic_admin)
    response = client.post(URL, page_data(client, clinic_a, course_open_weeks="99"))
    assert response.status_code == 422
    assert "Maintenance planned ahead" in text_of(response)
    assert TreatmentSettings.for_clinic(clinic_a.pk).course_open_weeks == 8


def test_the_protocols_page_names_no_files_and_says_a_maintenance_schedule_in_weeks(nurse):
    page = text_of(login(nurse).get(PROTOCOLS))
    assert "(iv_racemic_ketamine.json)" not in page and "(intranasal_esketamine.json)" not in page
    assert "0.25 a week" not in page
    assert "one session every 4 weeks" in page
    assert "3 sessions a week" in page


@pytest.mark.parametrize("per_week, said", [
    (3, "3 sessions a week"), (1, "1 session a week"), (1.5, "1.5 sessions a week"),
    (0.5, "one session every 2 weeks"), (0.25, "one session every 4 weeks"),
    (0.3, "about one session every 23 days")])
def test_sessions_a_week_are_said_as_a_clinician_says_them(per_week, said):
    from kapclinic.treatment.settings_catalog import per_week_words
    assert per_week_words(per_week) == said
