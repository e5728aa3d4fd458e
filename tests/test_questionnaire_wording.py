"""What a clinician or patient sees on a questionnaire: the published wording with the item
numbers, where the wording came from, and plain words where it is not shipped; an alert shows
the answers that raised it and the phone number to call."""

from __future__ import annotations

import html

import pytest
from django.test import Client
from django.utils import timezone

from kapclinic.accounts.models import Membership, User
from kapclinic.accounts.roles import Role
from kapclinic.patients.models import Patient
from tests.conftest import login, set_directly
from tests.outbox import delivered

PHQ9_ITEM9 = {f"item_{n}": "0" for n in range(1, 10)} | {"item_9": "2"}


@pytest.fixture
def reachable(patient):
    set_directly(Patient.objects.filter(pk=patient.pk), email="ada@example.org", phone="555-0142")
    patient.refresh_from_db()
    return patient


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_clinic_form_shows_each_phq9_question_numbered_with_its_published_wording(nurse, patient):
    page = text(login(nurse).get(f"/patients/{patient.pk}/measures/new/phq9/"))
    assert '<span class="item-number">1.</span> Little interest or pleasure in doing things?' in page
    assert '<span class="item-number">9.</span> Thoughts that you would be better off dead' in page
    assert "Item 1" not in page and "More than half the days" in page
    assert "Source of the wording" in page and "LHC-Forms" in page and "Pfizer" in page


def test_gad7_question_2_offers_loincs_more_days_than_not_and_says_whose_wording_it_is(nurse, patient):
    page = text(login(nurse).get(f"/patients/{patient.pk}/measures/new/gad7/"))
    assert "Over the past 2 weeks have you not been able to stop or control worrying" in page
    assert "More days than not" in page and "LOINC" in page


def test_a_questionnaire_without_shipped_wording_stays_numbered_and_says_why(nurse, patient):
    page = text(login(nurse).get(f"/patients/{patient.pk}/measures/new/madrs/"))
    assert "not shipped with kapclinic" in page and "Royal College of Psychiatrists" in page
    assert '<span class="item-number">10.</span> Item 10' in page
    assert "Source of the wording" not in page


def test_the_patients_link_shows_the_wording_and_a_pcl5_link_tells_them_to_use_the_clinics_copy(
        nurse, reachable):
    # staff can no longer send a PCL-5 link; one sent before (or by a schedule) still says so
    from kapclinic.measures import actions

    client = login(nurse)
    pages = {}
    for instrument in ("phq2", "pcl5"):
        if instrument == "pcl5":
            actions.send_request(patient=reachable, instrument=instrument,
                                 due_at=timezone.now(), base_url="http://testserver")
        else:
            client.post(f"/patients/{reachable.pk}/measures/send/", {"instrument": instrument})
        path = "/r/measure/" + delivered()[-1].body.split("/r/measure/", 1)[1].split("/", 1)[0] + "/"
        pages[instrument] = text(Client().get(path, follow=True))
    assert '<span class="item-number">2.</span> Feeling down, depressed, or hopeless?' in pages["phq2"]
    assert "Read each item from the clinic's copy" in pages["pcl5"]
    assert "If you have no copy, contact your clinic" in pages["pcl5"]


PCL5_REASON = ("The wording of the PCL-5 is not shipped with kapclinic: no published copy with "
               "its wording and a clear licence was at hand.")


def test_a_pcl5_link_and_the_portal_give_the_definitions_reason_as_the_clinic_form_does(
        clinic_a, nurse, reachable):
    # a PCL-5 sent before links were refused for it; the reason is not a licence
    from kapclinic.measures import actions

    user = User.objects.create_user("ada", password="x" * 12)
    Membership.objects.create(user=user, clinic=clinic_a, role=Role.PATIENT)
    set_directly(Patient.objects.filter(pk=reachable.pk), user=user)
    due = actions.send_request(patient=reachable, instrument="pcl5", due_at=timezone.now(),
                               base_url="http://testserver")
    path = "/r/measure/" + delivered()[-1].body.split("/r/measure/", 1)[1].split("/", 1)[0] + "/"
    pages = {"clinic form": text(login(nurse).get(f"/patients/{reachable.pk}/measures/new/pcl5/")),
             "link": text(Client().get(path, follow=True)),
             "portal": text(login(user).get(f"/portal/measures/{due.pk}/"))}
    for where, page in pages.items():
        assert PCL5_REASON in page, where
        assert "may not reproduce" not in page, where


def test_the_portal_names_a_due_questionnaire_and_shows_its_wording(clinic_a, nurse, reachable):
    user = User.objects.create_user("ada", password="x" * 12)
    Membership.objects.create(user=user, clinic=clinic_a, role=Role.PATIENT)
    set_directly(Patient.objects.filter(pk=reachable.pk), user=user)
    login(nurse).post(f"/patients/{reachable.pk}/measures/send/", {"instrument": "audit_c"})
    client = login(user)
    portal = text(client.get("/portal/"))
    assert ">AUDIT-C</a>" in portal and "AUDIT_C" not in portal
    due = reachable.measure_requests.get()
    page = text(client.get(f"/portal/measures/{due.pk}/"))
    assert "How often do you have a drink containing alcohol?" in page
    assert "How often do you have 6 or more drinks on 1 occasion" in page


def test_an_alert_shows_the_answers_and_score_that_raised_it_and_the_phone_to_call(nurse, reachable):
    client = login(nurse)
    client.post(f"/patients/{reachable.pk}/measures/new/phq9/", PHQ9_ITEM9)
    for path in ("/alerts/", f"/patients/{reachable.pk}/measures/"):
        page = text(client.get(path))
        assert 'href="tel:555-0142"' in page, path
        assert "9. Thoughts that you would be better off dead" in page, path
        assert "2 · More than half the days" in page and "raised the alert" in page, path
        assert "total 2" in page, path


def test_an_alert_for_a_patient_without_a_phone_says_so(nurse, patient):
    client = login(nurse)
    client.post(f"/patients/{patient.pk}/measures/new/phq9/", PHQ9_ITEM9)
    assert "No phone number on file" in text(client.get("/alerts/"))


def test_a_self_report_link_says_in_a_sentence_what_time_the_questions_are_about(
        nurse, reachable):
    login(nurse).post(f"/patients/{reachable.pk}/measures/send/", {"instrument": "phq9"})
    path = "/r/measure/" + delivered()[-1].body.split("/r/measure/", 1)[1].split("/", 1)[0] + "/"
    page = text(Client().get(path, follow=True))
    assert "For Ada. These questions are about the past 2 weeks." in page
    assert "thinking about past" not in page


@pytest.mark.parametrize(("recall", "said"), [
    ("past month", "These questions are about the past month."),
    ("past 7 days", "These questions are about the past 7 days."),
    ("right now (state rating)", "Time frame: right now (state rating)."),
])
def test_every_recall_period_reads_as_a_sentence(recall, said):
    from kapclinic.measures.templatetags.questionnaire import recall_sentence

    assert recall_sentence(recall) == said


@pytest.mark.parametrize(("instrument", "said"), [
    ("phq9", "10 items, filled in by the patient"),
    ("moaas", "1 item, rated by a clinician watching the patient"),
    ("cadss6", "6 items, rated partly by a clinician"),
    ("madrs", "10 items, rated by a clinician"),
    ("cssrs_screener", "7 items, rater not stated in its source"),
])
def test_the_measures_list_says_how_long_each_questionnaire_is_and_who_fills_it_in(
        instrument, said):
    from kapclinic.clinical import instruments
    from kapclinic.measures.templatetags.questionnaire import size_and_rater

    row = next(r for r in instruments.list_instruments() if r["id"] == instrument)
    assert size_and_rater(row) == said
