"""FHIR import: a transaction Bundle of Patient, Condition and QuestionnaireResponse, all or nothing,
matched so a re-import creates nothing twice, and a round trip that gives back the same records."""

from __future__ import annotations

import copy
import json
import re

from kapclinic import cli
from kapclinic.accounts.roles import Role
from kapclinic.audit.models import AuditEntry
from kapclinic.measures.models import Response
from kapclinic.patients.models import Condition, Patient
from tests import factories
from tests.interop.conftest import Fhir
from tests.interop.test_fhir_api import every

IMPORTED = ("Patient", "Condition", "QuestionnaireResponse", "Observation")


def post(api: Fhir, bundle: dict):
    return api.client.post("/fhir/R4", json.dumps(bundle), content_type="application/fhir+json",
                           HTTP_AUTHORIZATION=f"Bearer {api.secret}")


def transaction_of(resources: list[dict]) -> dict:
    """A transaction Bundle of a patient's exported records, the patient referred to by fullUrl."""
    entries = []
    for made in resources:
        made = copy.deepcopy(made)
        full_url = f"urn:uuid:{made['resourceType'].lower()}-{made['id']}"
        for key in ("subject", "patient"):
            if key in made and made[key]["reference"].startswith("Patient/"):
                made[key] = {"reference": f"urn:uuid:patient-{made[key]['reference'].split('/')[1]}"}
        for derived in made.get("derivedFrom", []):  # a total points at its response's entry
            kind, pk = derived["reference"].split("/")
            derived["reference"] = f"urn:uuid:{kind.lower()}-{pk}"
        entries.append({"fullUrl": full_url, "resource": made,
                        "request": {"method": "POST", "url": made["resourceType"]}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def comparable(made: dict) -> dict:
    """A resource without what names where it is stored (ids, times of storing, the clinic)."""
    made = copy.deepcopy(made)
    for key in ("id", "meta", "managingOrganization", "generalPractitioner", "author", "encounter",
                "active"):
        made.pop(key, None)
    for identifier in made.get("identifier", []):
        identifier["system"] = re.sub(r"^urn:kapclinic:clinic:[^:]+:", "urn:kapclinic:clinic:*:",
                                      identifier["system"])
    for key in ("subject", "derivedFrom"):
        if isinstance(made.get(key), dict):
            made[key] = {"reference": made[key]["reference"].split("/")[0]}
        elif isinstance(made.get(key), list):
            made[key] = [{"reference": r["reference"].split("/")[0]} for r in made[key]]
    return made


def records_of(api: Fhir, patient_id: int) -> list[dict]:
    found = every(api, f"/Patient/{patient_id}/$everything", _count=200,
                  _type="Patient,Condition,QuestionnaireResponse,Observation")
    return [r for r in found if r["resourceType"] != "Observation" or r["id"].startswith("score-")]


def test_a_patients_records_exported_and_imported_elsewhere_export_the_same(fhir_as, demo_patients):
    source = fhir_as("prescriber")
    patient = next(p for p in demo_patients if p.clinic.slug == "harbor" and p.responses.exists()
                   and p.conditions.exists())
    sent = records_of(source, patient.pk)
    elsewhere = factories.clinic("elsewhere")
    receiver = Fhir(factories.user(elsewhere, Role.PRESCRIBER, username="receiver"), scope="write")
    answer = post(receiver, transaction_of([r for r in sent if r["resourceType"] in IMPORTED]))
    assert answer.status_code == 200, answer.content[:600]
    body = json.loads(answer.content)
    assert body["type"] == "transaction-response"
    statuses = {e["response"]["location"].split("/")[-2]: e["response"]["status"] for e in body["entry"]}
    assert statuses["Patient"] == statuses["Condition"] == statuses["QuestionnaireResponse"] == "201 Created"
    assert statuses["Observation"] == "200 OK"  # a total: kapclinic's own score of the answers, agreeing
    new_patient = Patient.objects.get(clinic=elsewhere)
    back = records_of(receiver, new_patient.pk)
    key = lambda r: (r["resourceType"], json.dumps(comparable(r), sort_keys=True))  # noqa: E731
    assert sorted(map(key, back)) == sorted(map(key, sent))


def test_a_reimport_creates_nothing_twice(fhir_as, demo_patients):
    api = fhir_as("prescriber", scope="write")
    patient = next(p for p in demo_patients if p.clinic.slug == "harbor" and p.responses.exists())
    bundle = transaction_of([r for r in records_of(api, patient.pk) if r["resourceType"] in IMPORTED])
    counts = (Patient.objects.count(), Condition.objects.count(), Response.objects.count())
    answer = post(api, bundle)
    assert answer.status_code == 200
    assert {e["response"]["status"] for e in json.loads(answer.content)["entry"]} == {"200 OK"}
    assert (Patient.objects.count(), Condition.objects.count(), Response.objects.count()) == counts
    imported = AuditEntry.objects.filter(action="import", object_type="patient", object_id=str(patient.pk))
    assert imported.exists() and all("FHIR API" in e.detail_json for e in imported)


def test_one_bad_entry_refuses_the_whole_bundle_naming_its_element(fhir_as, demo_patients):
    api = fhir_as("prescriber", scope="write")
    mrn = [{"type": {"coding": [{"code": "MR"}]}, "value": "NEW-1"}]
    icd = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "F99.99"}]}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:p1", "resource": {
            "resourceType": "Patient", "identifier": mrn, "name": [{"family": "Lovelace", "given": ["Ada"]}],
            "gender": "female", "birthDate": "1985-12-10"}},
        {"resource": {"resourceType": "Condition", "subject": {"reference": "urn:uuid:p1"}, "code": icd}},
        {"resource": {"resourceType": "Observation", "status": "final"}},
    ]}
    before = Patient.objects.count()
    answer = post(api, bundle)
    assert answer.status_code == 422
    issues = json.loads(answer.content)["issue"]
    assert [i["expression"][0] for i in issues] == ["Bundle.entry[1].resource.code.coding",
                                                   "Bundle.entry[2].resource"]
    assert "F99.99" in issues[0]["diagnostics"] and "questionnaire's total" in issues[1]["diagnostics"]
    assert Patient.objects.count() == before  # nothing half-written


def test_only_a_write_token_of_a_role_that_creates_patients_and_enters_measures_may_import(fhir_as):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": []}
    assert post(fhir_as("prescriber"), bundle).status_code == 403  # a read-only token
    assert post(fhir_as("nurse", scope="write"), bundle).status_code == 403
    assert post(fhir_as("prescriber", scope="write"), bundle).status_code == 422  # no entries


def test_the_command_imports_ndjson_and_refuses_a_bad_file_naming_the_line(demo_patients, tmp_path, capsys):
    clinic = demo_patients[0].clinic
    good = tmp_path / "good.ndjson"
    mrn = [{"type": {"coding": [{"code": "MR"}]}, "value": "NDJ-1"}]
    grace = {"resourceType": "Patient", "identifier": mrn, "name": [{"family": "Hopper", "given": ["Grace"]}],
             "gender": "female", "birthDate": "1980-12-09"}
    good.write_text(json.dumps(grace) + "\n")
    assert cli.main(["fhir", "import", str(good), "--clinic", clinic.slug]) == 0
    assert Patient.objects.filter(clinic=clinic, mrn="NDJ-1").exists()
    assert "1 created" in capsys.readouterr().err
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"resourceType": "Patient"}\nnot json\n')
    assert cli.main(["fhir", "import", str(bad), "--clinic", clinic.slug]) == 2
    assert "line 2" in capsys.readouterr().err


def _patient(mrn: str, family: str, given: str, born: str, system: str = "http://referring-ehr.example/mrn"):
    return {"resourceType": "Patient", "identifier": [{"system": system, "type": {"coding": [{"code": "MR"}]},
                                                       "value": mrn}],
            "name": [{"family": family, "given": [given]}], "birthDate": born,
            "extension": [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
                           "valueCode": "F"}]}


def _condition(code: str, **status):
    return {"resourceType": "Condition", "subject": {"reference": "urn:uuid:p"},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]}, **status}


def test_another_systems_mrn_that_is_someone_else_here_is_refused_not_matched(fhir_as, demo_patients):
    api = fhir_as("prescriber", scope="write")
    here = next(p for p in demo_patients if p.clinic.slug == "harbor")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:p", "resource": _patient(here.mrn, "Somebody", "Else", "1950-01-01")},
        {"resource": _condition("F10.20")}]}
    before = set(Condition.objects.filter(patient=here).values_list("code", flat=True))
    answer = post(api, bundle)
    assert answer.status_code == 422
    issue = json.loads(answer.content)["issue"][0]
    assert issue["expression"] == ["Bundle.entry[0].resource.identifier"] and here.mrn in issue["diagnostics"]
    assert set(Condition.objects.filter(patient=here).values_list("code", flat=True)) == before


def test_a_refuted_resolved_or_future_diagnosis_is_refused_by_name(fhir_as):
    api = fhir_as("prescriber", scope="write")
    ver = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
    cli_ = "http://terminology.hl7.org/CodeSystem/condition-clinical"
    for status, element in (({"verificationStatus": {"coding": [{"system": ver, "code": "refuted"}]}},
                             "verificationStatus"),
                            ({"clinicalStatus": {"coding": [{"system": cli_, "code": "resolved"}]}},
                             "clinicalStatus"),
                            ({"recordedDate": "2999-01-01"}, "recordedDate")):
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:p", "resource": _patient("NEW-9", "Curie", "Marie", "1967-11-07")},
            {"resource": _condition("F43.10", **status)}]}
        answer = post(api, bundle)
        assert answer.status_code == 422, status
        assert json.loads(answer.content)["issue"][0]["expression"] == [f"Bundle.entry[1].resource.{element}"]
    assert not Patient.objects.filter(mrn="NEW-9").exists()


def test_a_date_only_recorded_date_is_kept_as_that_day(fhir_as, demo_patients):
    api = fhir_as("prescriber", scope="write")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:p", "resource": _patient("NEW-10", "Franklin", "Rosalind", "1960-07-25")},
        {"resource": _condition("F41.1", recordedDate="2025-03-04")}]}
    assert post(api, bundle).status_code == 200
    condition = Condition.objects.get(patient__mrn="NEW-10")
    assert condition.recorded_at.date().isoformat() == "2025-03-04"
    assert Patient.objects.get(mrn="NEW-10").sex_at_birth == "female"  # from the birth sex extension


def test_elements_of_the_wrong_shape_are_refused_not_a_server_error(fhir_as):
    api = fhir_as("prescriber", scope="write")
    for resource in ({"resourceType": "Condition", "code": "F41.1", "subject": {"reference": "urn:uuid:p"}},
                     {**_patient("NEW-11", "Noether", "Emmy", "1882-03-23"), "contact": ["x"]},
                     {"resourceType": "QuestionnaireResponse",
                      "questionnaire": "urn:kapclinic:questionnaire:phq9", "status": "completed",
                      "authored": "2026-01-01T09:00:00Z", "item": "x",
                      "subject": {"reference": "urn:uuid:p"}}):
        answer = post(api, {"resourceType": "Bundle", "type": "transaction",
                            "entry": [{"resource": resource, "request": "x"}]})
        assert answer.status_code == 422, (resource, answer.content[:300])


def test_the_same_mrn_twice_in_a_bundle_is_refused_not_merged(fhir_as):
    api = fhir_as("prescriber", scope="write")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:a", "resource": _patient("TWICE-1", "Ada", "Lovelace", "1985-12-10")},
        {"fullUrl": "urn:uuid:b", "resource": _patient("TWICE-1", "Grace", "Hopper", "1976-12-09")}]}
    answer = post(api, bundle)
    assert answer.status_code == 422
    assert json.loads(answer.content)["issue"][0]["expression"] == ["Bundle.entry[1].resource.identifier"]
    assert not Patient.objects.filter(mrn="TWICE-1").exists()


def test_a_withdrawn_diagnosis_is_left_out_and_the_rest_imported(fhir_as):
    api = fhir_as("prescriber", scope="write")
    ver = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:p", "resource": _patient("NEW-12", "Meitner", "Lise", "1978-11-07")},
        {"resource": _condition("F43.10", verificationStatus={"coding": [{"system": ver,
                                                                          "code": "entered-in-error"}]})},
        {"resource": _condition("F41.1", recordedDate="2024-05")}]}
    assert post(api, bundle).status_code == 200
    conditions = Condition.objects.filter(patient__mrn="NEW-12")
    assert [c.code for c in conditions] == ["F41.1"]
    assert conditions[0].recorded_at.date().isoformat() == "2024-05-01"  # a month: its first day


def test_a_total_that_disagrees_with_the_answers_refuses_the_bundle(fhir_as, demo_patients):
    source = fhir_as("prescriber")
    patient = next(p for p in demo_patients if p.clinic.slug == "harbor" and p.responses.exists())
    sent = [r for r in records_of(source, patient.pk) if r["resourceType"] in IMPORTED]
    total = next(r for r in sent if r["resourceType"] == "Observation")
    total["valueQuantity"]["value"] += 1
    elsewhere = factories.clinic("elsewhere")
    receiver = Fhir(factories.user(elsewhere, Role.PRESCRIBER, username="receiver"), scope="write")
    answer = post(receiver, transaction_of(sent))
    assert answer.status_code == 422
    issue = json.loads(answer.content)["issue"][0]
    assert issue["expression"][0].endswith("valueQuantity.value") and "score" in issue["diagnostics"]
    assert not Patient.objects.filter(clinic=elsewhere).exists()  # all or nothing


def test_a_vital_sign_observation_is_refused_with_the_reason(fhir_as):
    api = fhir_as("prescriber", scope="write")
    heart = {"resourceType": "Observation", "status": "final",
             "category": [{"coding": [{"code": "vital-signs"}]}],
             "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
             "valueQuantity": {"value": 80, "unit": "/min"}}
    answer = post(api, {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": heart}]})
    assert answer.status_code == 422
    assert "dosing session" in json.loads(answer.content)["issue"][0]["diagnostics"]
