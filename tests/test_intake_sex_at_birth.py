"""The intake does not ask a patient male at birth about pregnancy or breastfeeding, and the
rules do not then call those answers missing."""

from __future__ import annotations

from kapclinic.patients.actions import add_condition
from kapclinic.screening import actions
from kapclinic.screening.models import EligibilityDecision
from tests.conftest import login, new_patient
from tests.test_screening_pages import GOOD_INTAKE, evaluate

WITHOUT_PREGNANCY = {k: v for k, v in GOOD_INTAKE.items() if k not in ("pregnant", "breastfeeding")}


def test_a_male_patient_is_not_asked_about_pregnancy_and_nothing_is_missing(
        clinic_a, prescriber, coordinator):
    man = new_patient(clinic_a, prescriber, mrn="A-0002", given_name="Omar", sex_at_birth="male")
    add_condition(patient=man, code="F33.2", treatment_resistant=True, by=prescriber)
    client = login(coordinator)
    form = client.get(f"/patients/{man.pk}/intake/").content.decode()
    assert 'name="pregnant"' not in form and 'name="breastfeeding"' not in form
    assert "Pregnancy" not in form
    saved = client.post(f"/patients/{man.pk}/intake/", {
        **WITHOUT_PREGNANCY, "version": actions.intake_for(man).version})
    assert saved.status_code == 302
    data = actions.intake_for(man).data
    assert data["pregnant"] is False and data["breastfeeding"] is False
    for drug, route in (("ketamine", "iv-infusion"), ("esketamine", "intranasal")):
        evaluate(client, man, drug, route)
        decision = EligibilityDecision.objects.filter(patient=man, drug=drug).latest("pk")
        missing = " ".join(decision.result["missing"])
        assert "pregnan" not in missing and "breastfeed" not in missing
        assert decision.status != "needs_review", decision.result


def test_a_female_patient_is_still_asked(coordinator, patient):
    form = login(coordinator).get(f"/patients/{patient.pk}/intake/").content.decode()
    assert 'name="pregnant"' in form and 'name="breastfeeding"' in form
