"""`kapclinic fhir bulk-export`: every type as NDJSON, a manifest, audited, nothing half-written."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B import get_fhir_model_class

from kapclinic import cli
from kapclinic.audit.models import AuditEntry
from kapclinic.interop import bulk
from kapclinic.interop.fhir.sources import ALL_TYPES
from tests.interop.test_fhir_api import every


def test_the_export_writes_one_valid_ndjson_file_per_type_and_a_manifest(demo_patients, tmp_path):
    clinic = demo_patients[0].clinic
    manifest = bulk.write(bulk.Export(clinic), tmp_path)
    assert {entry["type"] for entry in manifest["output"]} == set(ALL_TYPES)
    for entry in manifest["output"]:
        lines = (tmp_path / f"{entry['type']}.ndjson").read_text(encoding="utf-8").splitlines()
        assert len(lines) == entry["count"] > 0
        for line in lines:
            made = json.loads(line)
            assert made["resourceType"] == entry["type"]
            get_fhir_model_class(entry["type"]).model_validate(made)
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    assert not list(tmp_path.glob("*.partial"))


def test_the_export_holds_what_the_api_serves(demo_patients, tmp_path, fhir_as):
    clinic = demo_patients[0].clinic
    bulk.write(bulk.Export(clinic, ("Observation", "Encounter")), tmp_path)
    api = fhir_as("prescriber")
    for resource in ("Observation", "Encounter"):
        exported = [json.loads(line) for line in (tmp_path / f"{resource}.ndjson").read_text().splitlines()]
        served = every(api, f"/{resource}", _count=500)
        assert sorted(exported, key=lambda r: r["id"]) == sorted(served, key=lambda r: r["id"])


def test_the_export_is_in_the_audit_trail_with_every_patient_whose_records_left(demo_patients, tmp_path):
    clinic = demo_patients[0].clinic
    before = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    bulk.write(bulk.Export(clinic, ("Patient",)), tmp_path)
    entries = AuditEntry.objects.filter(seq__gt=before, action="export")
    assert entries.filter(object_type="fhir_export", object_id=clinic.slug).count() == 1
    assert set(entries.filter(object_type="patient").values_list("patient_id", flat=True)) == {
        p.pk for p in demo_patients if p.clinic_id == clinic.pk}


def test_since_leaves_out_what_has_not_changed(demo_patients, tmp_path):
    clinic = demo_patients[0].clinic
    bulk.write(bulk.Export(clinic, ("Patient",), since=bulk.timezone.now()), tmp_path)
    assert (tmp_path / "Patient.ndjson").read_text() == ""


@pytest.mark.parametrize(("argv", "named"), [
    (["--clinic", "nowhere"], "--clinic"),
    (["--clinic", "{slug}", "--type", "Patient,Spaceship"], "--type"),
    (["--clinic", "{slug}", "--since", "last week"], "--since"),
])
def test_the_command_refuses_bad_options_naming_them(demo_patients, tmp_path, capsys, argv, named):
    slug = demo_patients[0].clinic.slug
    argv = [a.replace("{slug}", slug) for a in argv]
    assert cli.main(["fhir", "bulk-export", "--out", str(tmp_path / "out"), *argv]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"kapclinic: {named}") and len(error.splitlines()) == 1


def test_the_command_writes_the_export(demo_patients, tmp_path, capsys):
    slug = demo_patients[0].clinic.slug
    assert cli.main(["fhir", "bulk-export", "--clinic", slug, "--out", str(tmp_path), "--type",
                     "Patient,Condition"]) == 0
    assert "resources of 2 types" in capsys.readouterr().err
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["request"].endswith("--type Patient,Condition")
