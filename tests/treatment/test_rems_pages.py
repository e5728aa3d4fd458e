"""The REMS form page: the form of an esketamine session with a banner until it is marked
submitted, marked once however often the button is pressed, another clinic's session a 404,
and a plain 404 for a session that has no form."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kapclinic.audit.models import AuditEntry
from kapclinic.platform import idempotency
from kapclinic.treatment.rems_models import RemsSubmission
from tests.conftest import login
from tests.test_idempotency import token_from
from tests.test_plain_words import developer_words, shown_text
from tests.treatment.helpers import cleared, eligible_and_consented
from tests.treatment.test_rems_form import esketamine_session

pytestmark = pytest.mark.django_db


def url(session) -> str:
    return f"/sessions/{session.pk}/rems/"


def test_the_form_shows_a_banner_until_it_is_marked_submitted(patient, prescriber, nurse):
    s = esketamine_session(patient, prescriber, nurse)
    client = login(nurse)
    page = client.get(url(s))
    text = shown_text(page.content.decode())
    assert page.status_code == 200
    assert "Not yet submitted." in text and "SPRAVATO REMS Patient Monitoring Form" in text
    assert "56 mg" in text and "SPR-0042" in text and "136/86" in text
    assert "Concomitant medications: Benzodiazepines" in text  # listed to fill in by hand
    assert developer_words(page.content.decode()) == []
    assert AuditEntry.objects.filter(action="read", object_type="session", object_id=str(s.pk)).exists()
    today = timezone.localtime(timezone.now(), patient.clinic.zone).date()
    done = client.post(f"/sessions/{s.pk}/rems/submitted/", {
        "submitted_on": today.isoformat(), "method": "fax",
        idempotency.FORM_FIELD: token_from(page)}, follow=True)
    text = shown_text(done.content.decode())
    assert "Not yet submitted." not in text
    assert "Submitted on" in text and "(fax)" in text
    assert "Mark submitted" not in text  # the mark form is gone once marked


def test_pressing_mark_submitted_twice_stores_it_once(patient, prescriber, nurse):
    s = esketamine_session(patient, prescriber, nurse)
    client = login(nurse)
    data = {"submitted_on": timezone.localtime(timezone.now(), patient.clinic.zone).date().isoformat(),
            "method": "online", idempotency.FORM_FIELD: token_from(client.get(url(s)))}
    first = client.post(f"/sessions/{s.pk}/rems/submitted/", data)
    second = client.post(f"/sessions/{s.pk}/rems/submitted/", data)
    assert first.status_code == second.status_code == 302
    assert RemsSubmission.objects.filter(session=s).count() == 1


def test_a_future_submission_day_is_refused_on_the_page(patient, prescriber, nurse):
    s = esketamine_session(patient, prescriber, nurse)
    page = login(nurse).post(f"/sessions/{s.pk}/rems/submitted/",
                             {"submitted_on": "2999-01-01", "method": "fax"})
    assert page.status_code == 422
    assert "is in the future" in page.content.decode()
    assert not RemsSubmission.objects.exists()


def test_another_clinics_session_is_a_404(patient, prescriber, nurse, other_clinician):
    s = esketamine_session(patient, prescriber, nurse)
    client = login(other_clinician)
    assert client.get(url(s)).status_code == 404
    assert client.post(f"/sessions/{s.pk}/rems/submitted/",
                       {"submitted_on": "2026-01-01", "method": "fax"}).status_code == 404
    assert not RemsSubmission.objects.exists()


def test_a_session_of_another_drug_has_no_form(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse)
    page = login(nurse).get(url(s))
    assert page.status_code == 404
    assert "Only esketamine (Spravato) sessions have a REMS Patient Monitoring Form" in page.content.decode()


def test_a_therapist_reads_the_form_but_does_not_mark_it(patient, prescriber, nurse, therapist):
    s = esketamine_session(patient, prescriber, nurse)
    client = login(therapist)
    page = client.get(url(s))
    assert page.status_code == 200 and "Mark submitted" not in page.content.decode()
    refused = client.post(f"/sessions/{s.pk}/rems/submitted/",
                          {"submitted_on": "2026-01-01", "method": "fax"})
    assert refused.status_code == 403
    assert not RemsSubmission.objects.exists()
