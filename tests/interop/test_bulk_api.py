"""FHIR Bulk Data over the API: kick-off, polling, the manifest, files for the asking token only."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class

from kapclinic.audit.models import AuditEntry
from kapclinic.interop import jobs
from kapclinic.interop.models import BulkExport, ExportState
from tests import factories
from tests.interop.conftest import Fhir

ASYNC = {"HTTP_PREFER": "respond-async", "HTTP_ACCEPT": "application/fhir+json"}


def kick_off(api: Fhir, path: str = "/$export", **params):
    return api.client.get(f"/fhir/R4{path}", params, HTTP_AUTHORIZATION=f"Bearer {api.secret}", **ASYNC)


def poll(api: Fhir, url: str, method: str = "GET"):
    return api.client.generic(method, url, HTTP_AUTHORIZATION=f"Bearer {api.secret}")


def test_an_export_is_accepted_then_polled_until_its_manifest_lists_valid_files(fhir_as, demo_patients):
    api = fhir_as("prescriber")
    accepted = kick_off(api, _type="Patient,Observation")
    assert accepted.status_code == 202
    status_url = accepted["Content-Location"]
    waiting = poll(api, status_url)
    assert waiting.status_code == 202 and waiting["X-Progress"] == "waiting to start"
    assert jobs.worker_step(demo_patients[0].clinic_id, timezone.now()) == 1  # the worker runs it
    done = poll(api, status_url)
    assert done.status_code == 200
    manifest = json.loads(done.content)
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"].endswith("_type=Patient%2CObservation")
    assert {entry["type"] for entry in manifest["output"]} == {"Patient", "Observation"}
    for entry in manifest["output"]:
        response = poll(api, entry["url"])
        assert response.status_code == 200 and response["Content-Type"] == "application/fhir+ndjson"
        lines = b"".join(response.streaming_content).decode().splitlines()
        assert len(lines) == entry["count"]
        for line in lines[:50]:
            get_fhir_model_class(entry["type"]).model_validate(json.loads(line))


def test_a_retried_kick_off_starts_one_export(fhir_as):
    api = fhir_as("prescriber")
    first, again = kick_off(api, _type="Patient"), kick_off(api, _type="Patient")
    assert first["Content-Location"] == again["Content-Location"]
    assert BulkExport.objects.count() == 1


def test_the_files_are_served_to_the_asking_token_only(fhir_as, demo_patients):
    api = fhir_as("prescriber")
    status_url = kick_off(api, _type="Patient")["Content-Location"]
    jobs.worker_step(demo_patients[0].clinic_id, timezone.now())
    file_url = json.loads(poll(api, status_url).content)["output"][0]["url"]
    other_token = Fhir(api.user)  # the same prescriber, another token
    assert poll(other_token, status_url).status_code == 404
    assert poll(other_token, file_url).status_code == 404
    stranger = Fhir(factories.user(factories.clinic("elsewhere"), username="stranger"))
    assert poll(stranger, status_url).status_code in (403, 404)


def test_files_are_deleted_when_their_time_is_up_or_the_client_deletes_them(fhir_as, demo_patients):
    api = fhir_as("prescriber")
    clinic_id = demo_patients[0].clinic_id
    status_url = kick_off(api, _type="Organization")["Content-Location"]
    jobs.worker_step(clinic_id, timezone.now())
    export = BulkExport.objects.get()
    assert jobs.folder_of(export).exists()
    jobs.worker_step(clinic_id, export.expires_at + timedelta(seconds=1))
    assert not jobs.folder_of(export).exists()
    gone = poll(api, status_url)
    assert gone.status_code == 404 and "deleted" in json.loads(gone.content)["issue"][0]["diagnostics"]
    second = kick_off(api, _type="Patient")["Content-Location"]
    assert poll(api, second, "DELETE").status_code == 202
    assert BulkExport.objects.get(pk=second.rsplit("/", 1)[1]).state == ExportState.DELETED


def test_only_the_prescriber_with_a_token_and_respond_async_may_export(fhir_as, demo_patients):
    for role in ("nurse", "admin", "researcher"):
        assert kick_off(fhir_as(role)).status_code == 403
    api = fhir_as("prescriber")
    plain = api.get("/$export")
    assert plain.status_code == 400 and json.loads(plain.content)["issue"][0]["expression"] == ["Prefer"]
    assert kick_off(api, _type="Spaceship").status_code == 400
    assert kick_off(api, _outputFormat="text/csv").status_code == 400
    assert kick_off(api, f"/Group/{demo_patients[0].clinic_id + 999}/$export").status_code == 404
    assert kick_off(api, f"/Group/{demo_patients[0].clinic_id}/$export").status_code == 202


def test_an_export_is_audited_with_the_patients_whose_records_left(fhir_as, demo_patients):
    api = fhir_as("prescriber")
    before = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    kick_off(api, _type="Patient")
    jobs.worker_step(demo_patients[0].clinic_id, timezone.now())
    entries = AuditEntry.objects.filter(seq__gt=before)
    assert entries.filter(action="create", object_type="bulk_export", actor_id=api.user.pk).exists()
    assert entries.filter(action="export", object_type="patient").count() == len(
        {p.pk for p in demo_patients if p.clinic_id == demo_patients[0].clinic_id})


def test_an_export_cancelled_while_it_runs_is_not_served_afterwards(fhir_as, demo_patients, monkeypatch):
    api = fhir_as("prescriber")
    status_url = kick_off(api, _type="Patient")["Content-Location"]
    export = BulkExport.objects.get()
    real_write = jobs.bulk.write

    def cancelled_meanwhile(*args, **kwargs):
        manifest = real_write(*args, **kwargs)
        jobs.delete_files(BulkExport.objects.get(pk=export.pk), "deleted by the client")  # the DELETE
        return manifest

    monkeypatch.setattr(jobs.bulk, "write", cancelled_meanwhile)
    jobs.run(export.pk)
    assert BulkExport.objects.get(pk=export.pk).state == ExportState.DELETED
    assert not jobs.folder_of(export).exists()
    assert poll(api, status_url).status_code == 404


def test_a_clinic_may_have_two_exports_waiting_at_once_not_more(fhir_as):
    api = fhir_as("prescriber")
    assert kick_off(api, _type="Patient").status_code == 202
    assert kick_off(api, _type="Condition").status_code == 202
    third = kick_off(api, _type="Encounter")
    assert third.status_code == 429 and third["Retry-After"] == "60"
    assert BulkExport.objects.count() == 2
