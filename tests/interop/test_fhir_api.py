"""The FHIR R4 API at /fhir/R4: every resource valid, scoped to the clinic, audited, paged."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from fhir.resources.R4B import get_fhir_model_class  # a pinned test dependency: never skipped

from kapclinic.audit.models import AuditEntry
from kapclinic.interop.fhir.sources import ALL_TYPES
from kapclinic.treatment import actions
from kapclinic.treatment.models import VitalReading
from kapclinic.treatment.monitors import intake
from tests import factories
from tests.interop.conftest import Fhir
from tests.treatment.test_monitor_batches import in_chair, message

UCUM = "http://unitsofmeasure.org"
VITALS_PROFILE = "http://hl7.org/fhir/StructureDefinition/vitalsigns"


def every(api: Fhir, path: str, pages: list | None = None, **params) -> list[dict]:
    """All the resources of a search, following its next links (each page's size in ``pages``)."""
    found = []
    body = api.json(path, **params)
    while True:
        found += [entry["resource"] for entry in body["entry"]]
        if pages is not None:
            pages.append(len(body["entry"]))
        following = [link["url"] for link in body["link"] if link["relation"] == "next"]
        if not following:
            return found
        response = api.client.get(following[0], HTTP_AUTHORIZATION=f"Bearer {api.secret}")
        assert response.status_code == 200
        body = json.loads(response.content)


def issue(response) -> dict:
    assert response["Content-Type"].startswith("application/fhir+json")
    body = json.loads(response.content)
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


def test_every_resource_of_every_type_is_valid_fhir_and_reads_back_the_same(fhir_as):
    api = fhir_as("prescriber")
    for resource in ALL_TYPES:
        found = every(api, f"/{resource}", _count=200)
        assert found, f"the demo clinic has no {resource}"
        for made in found:
            assert made["resourceType"] == resource
            get_fhir_model_class(resource).model_validate(made)  # raises on any invalid element
        first = found[0]
        assert api.json(f"/{resource}/{first['id']}") == first


def test_vital_signs_follow_the_vital_signs_profile_with_loinc_and_ucum(fhir_as):
    api = fhir_as("nurse")
    vitals = [o for o in every(api, "/Observation", _count=500)
              if o["category"][0]["coding"][0]["code"] == "vital-signs"]
    assert vitals
    for o in vitals:
        assert o["meta"]["profile"] == [VITALS_PROFILE]
        assert o["code"]["coding"][0]["system"] == "http://loinc.org"
        parts = [o] if "valueQuantity" in o else o["component"]
        quantities = [part["valueQuantity"] for part in parts]
        assert all(q["system"] == UCUM and q["code"] == q["unit"] for q in quantities)
    pressure = next(o for o in vitals if o["id"].endswith("-bp"))
    assert pressure["code"]["coding"][0]["code"] == "85354-9"
    assert {c["code"]["coding"][0]["code"] for c in pressure["component"]} <= {"8480-6", "8462-4"}
    spo2 = next(o for o in vitals if o["id"].endswith("-spo2"))
    assert [c["code"] for c in spo2["code"]["coding"]][:2] == ["2708-6", "59408-5"]


def test_questionnaire_totals_are_survey_observations_derived_from_their_response(fhir_as):
    api = fhir_as("therapist")
    totals = [o for o in every(api, "/Observation", _count=500) if o["id"].startswith("score-")]
    phq9 = next(o for o in totals if o["code"]["coding"][0]["code"] == "44261-6")
    assert phq9["category"][0]["coding"][0]["code"] == "survey"
    assert phq9["valueQuantity"]["code"] == "{score}"
    response = api.json(f"/{phq9['derivedFrom'][0]['reference']}")
    assert response["resourceType"] == "QuestionnaireResponse"
    assert response["questionnaire"].startswith("urn:kapclinic:questionnaire:phq9|")
    codings = [answer["answer"][0]["valueCoding"] for answer in response["item"]]
    assert codings and all(coding["system"] == "http://loinc.org" for coding in codings)


def test_paging_sends_every_resource_once_and_never_more_than_count(fhir_as):
    api = fhir_as("prescriber")
    whole = every(api, "/Observation", _count=500)
    sizes: list[int] = []
    paged = every(api, "/Observation", sizes, _count=7)
    assert [o["id"] for o in paged] == [o["id"] for o in whole]
    assert len(set(o["id"] for o in paged)) == len(paged)
    # full pages of 7, and the last one not empty: no next link leads to an empty page
    assert sizes[:-1] == [7] * (len(sizes) - 1) and 1 <= sizes[-1] <= 7


def test_search_by_patient_code_and_date_finds_only_those(fhir_as, demo_patients):
    api = fhir_as("nurse")
    everyone = every(api, "/Observation", _count=500, code="http://loinc.org|8867-4")
    patient_id = everyone[0]["subject"]["reference"].split("/")[1]
    mine = every(api, "/Observation", _count=500, code="http://loinc.org|8867-4",
                 patient=f"Patient/{patient_id}")
    assert mine and all(o["subject"]["reference"] == f"Patient/{patient_id}" for o in mine)
    assert all(o["code"]["coding"][0]["code"] == "8867-4" for o in mine)
    assert len(mine) == sum(o["subject"]["reference"] == f"Patient/{patient_id}" for o in everyone)
    moment = sorted(o["effectiveDateTime"] for o in mine)[len(mine) // 2]
    later = every(api, "/Observation", _count=500, code="8867-4", patient=patient_id, date=f"ge{moment}")
    assert later and all(o["effectiveDateTime"] >= moment for o in later)
    assert len(later) < len(mine)


def test_everything_holds_the_patients_records_and_nobody_elses(fhir_as, demo_patients):
    api = fhir_as("prescriber")
    patient = next(p for p in demo_patients if p.status == "in_treatment")
    found = every(api, f"/Patient/{patient.pk}/$everything", _count=100)
    kinds = {r["resourceType"] for r in found}
    assert {"Patient", "Condition", "Encounter", "Observation", "MedicationAdministration"} <= kinds
    for made in found:
        about = (made.get("subject") or made.get("patient") or {}).get("reference")
        itself = made["resourceType"] == "Patient" and made["id"] == str(patient.pk)
        assert itself or about == f"Patient/{patient.pk}"


def test_another_clinics_records_do_not_exist(fhir_as, demo_patients):
    other = factories.clinic("elsewhere")
    stranger = factories.patient(other, mrn="E-1")
    api = fhir_as("prescriber")
    for path in (f"/Patient/{stranger.pk}", f"/Patient/{stranger.pk}/$everything"):
        response = api.get(path)
        assert response.status_code == 404 and issue(response)["code"] == "not-found"
    assert api.json("/Observation", patient=stranger.pk)["entry"] == []
    assert api.json("/Patient", identifier="E-1")["entry"] == []
    assert AuditEntry.objects.filter(action="denied").exists() or AuditEntry.objects.filter(
        object_type="patient", object_id=str(stranger.pk)).exists()


def test_roles_that_read_no_charts_are_refused_with_an_operation_outcome(fhir_as):
    for role in ("admin", "researcher"):
        response = fhir_as(role).get("/Patient")
        assert response.status_code == 403 and issue(response)["code"] == "forbidden"
    assert fhir_as("researcher").json("/metadata")["resourceType"] == "CapabilityStatement"


def test_no_token_or_a_wrong_one_is_a_401_asking_for_a_bearer_token(demo_patients):
    response = Client().get("/fhir/R4/Patient")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert "token" in issue(response)["diagnostics"]
    wrong = Client().get("/fhir/R4/Patient", HTTP_AUTHORIZATION="Bearer kap_wrong")
    assert wrong.status_code == 401 and issue(wrong)["code"] == "login"


def test_bad_parameters_are_refused_naming_the_parameter(fhir_as):
    api = fhir_as("nurse")
    for params, named in (({"colour": "red"}, "colour"), ({"_count": "0"}, "_count"),
                          ({"_count": "100000"}, "_count"), ({"date": "yesterday"}, "date"),
                          ({"date": "ne2026-01-01"}, "date"), ({"_cursor": "not*a*page"}, "_cursor"),
                          ({"patient": "Group/1"}, "patient"), ({"_format": "xml"}, "_format")):
        response = api.get("/Observation", **params)
        assert response.status_code == 400, params
        found = issue(response)
        assert found["expression"] == [named] and found["code"] == "invalid"
    unknown = api.get("/Medication")
    assert unknown.status_code == 404 and "Medication" in issue(unknown)["diagnostics"]
    assert api.client.post("/fhir/R4/Patient", HTTP_AUTHORIZATION=f"Bearer {api.secret}").status_code == 405


def test_every_search_and_read_is_in_the_audit_trail_with_its_patient(fhir_as):
    api = fhir_as("prescriber")
    before = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    page = api.json("/Condition", _count=5)
    listed = AuditEntry.objects.filter(seq__gt=before, action="list", object_type="condition")
    assert {e.object_id for e in listed} == {e["resource"]["id"] for e in page["entry"]}
    assert all(e.patient_id for e in listed)
    patient_id = page["entry"][0]["resource"]["subject"]["reference"].split("/")[1]
    api.json(f"/Patient/{patient_id}")
    assert AuditEntry.objects.filter(seq__gt=before, action="read", object_type="patient",
                                     object_id=patient_id).exists()


def test_a_reading_entered_in_error_is_sent_with_that_status(fhir_as):
    api = fhir_as("nurse")
    reading = VitalReading.objects.filter(heart_rate_bpm__isnull=False).order_by("pk").first()
    actions.mark_vitals_entered_in_error(reading, reason="typed in the wrong chart", by=api.user)
    observation = api.json(f"/Observation/vital-{reading.pk}-hr")
    assert observation["status"] == "entered-in-error"
    get_fhir_model_class("Observation").model_validate(observation)


@pytest.mark.django_db
def test_a_monitors_reading_carries_the_mdc_code_it_was_sent_with(clinic_a, prescriber, nurse):
    session = in_chair(clinic_a, prescriber, nurse, "MON-1")
    intake.receive(message("C1", "MON-1", seconds_ago=5), clinic=clinic_a, peer="127.0.0.1")
    reading = VitalReading.objects.get(session=session, source="device")
    heart = Fhir(nurse).json(f"/Observation/vital-{reading.pk}-hr")
    assert heart["code"]["coding"][0]["code"] == "8867-4"
    assert {"system": "urn:iso:std:iso:11073:10101", "code": "147842"} in heart["code"]["coding"]
    assert heart["device"]["display"]


def test_malformed_ids_dates_and_cursors_find_nothing_or_are_a_400_never_a_server_error(fhir_as):
    api = fhir_as("prescriber")
    for path, params in (("/Patient", {"_id": "²"}), ("/Patient", {"_id": "9" * 30}),
                         ("/Practitioner", {"_id": "²"}), ("/Observation", {"patient": "²"}),
                         ("/Observation", {"_count": "²"}),
                         ("/Observation", {"date": "9999-12-31"}), ("/Observation", {"date": "9999-12"}),
                         ("/Condition", {"_lastUpdated": "0001-01-01T00:00:00+01:00"}),
                         ("/Observation", {"_cursor": "W" * 5000}), ("/Patient/²/$everything", {}),
                         ("/Patient/1/$everything", {"_since": "9999-12-31"}), ("/bulk/²", {})):
        response = api.get(path, **params)
        body = json.loads(response.content)
        if response.status_code == 200:  # a search that matches nothing
            assert body["resourceType"] == "Bundle" and body["entry"] == [], (path, params)
        else:
            assert response.status_code in (400, 404), (path, params, response.status_code)
            assert body["resourceType"] == "OperationOutcome"


def test_a_search_by_a_component_code_answers_at_once_with_nothing(fhir_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = fhir_as("nurse")
    with CaptureQueriesContext(connection) as queries:
        body = api.json("/Observation", code="http://loinc.org|8480-6", _count=1)
    assert body["entry"] == [] and len(queries) < 30  # not a walk through every reading


def test_an_identifier_of_another_system_matches_nobody(fhir_as, demo_patients):
    api = fhir_as("nurse")
    mrn = next(p.mrn for p in demo_patients if p.clinic.slug == "harbor")
    assert len(api.json("/Patient", identifier=f"urn:kapclinic:clinic:harbor:mrn|{mrn}")["entry"]) == 1
    assert api.json("/Patient", identifier=f"urn:kapclinic:clinic:cedar:mrn|{mrn}")["entry"] == []


def test_portal_patients_are_not_practitioners(fhir_as, demo_patients):
    from kapclinic.accounts.models import Membership

    api = fhir_as("nurse")
    portal = set(Membership.objects.filter(role="patient").values_list("user_id", flat=True))
    assert portal and not portal & {int(p["id"]) for p in every(api, "/Practitioner", _count=500)}


def test_a_nul_character_in_a_parameter_is_a_400(fhir_as):
    response = fhir_as("nurse").get("/Patient", identifier="a\x00b")
    assert response.status_code == 400
    assert json.loads(response.content)["issue"][0]["expression"] == ["identifier"]
