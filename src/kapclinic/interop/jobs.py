"""Bulk Data exports asked for over the API: queued by the request, run in the background.

The kick-off only records the export (one row) and starts ``kapclinic fhir run-export ID`` as
a process of its own after the commit; the worker's pass also runs any export still waiting
(a process that never started, a server restarted), so an export is never lost. Starting an
export is a compare-and-swap (queued -> running), so two runners never write the same one. The
files are kept for the clinic's set time, then deleted by the worker.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kapclinic.accounts import scoping
from kapclinic.accounts.models import Clinic
from kapclinic.audit import trail

from . import bulk
from .models import BulkExport, ExportState, InteropSettings

log = logging.getLogger(__name__)
PROGRESS_EVERY = 1.0  # seconds between progress notes in the database
STALE_AFTER = timedelta(hours=6)  # a running export with no word for this long has died
NOT_STARTED_AFTER = timedelta(minutes=1)  # a waiting export the worker starts a process for
NEVER_STARTED_AFTER = timedelta(minutes=15)  # a waiting export no process took: failed, its slot freed
MAX_ACTIVE = 2  # exports of one clinic waiting or running at once (each reads the whole clinic)


class TooManyExports(Exception):
    pass


def folder_of(export: BulkExport) -> Path:
    return Path(settings.DATA_DIR) / "exports" / str(export.pk)


def kick_off(*, clinic, by, token, types: tuple[str, ...], since: datetime | None,
             request: str) -> BulkExport:
    """The export of this request: a new one, or the one this token already asked for with the
    same request and still waiting or running (a retried kick-off starts nothing twice)."""
    request = request[:2000]
    with transaction.atomic():
        # the clinic's row locked first: two kick-offs at once cannot both pass the limit
        Clinic.objects.select_for_update(no_key=True).filter(pk=clinic.pk).first()
        active = BulkExport.objects.filter(
            clinic=clinic, state__in=(ExportState.QUEUED, ExportState.RUNNING))
        same = active.filter(token=token, request=request).first()
        if same is not None:
            return same
        if active.count() >= MAX_ACTIVE:
            raise TooManyExports
        export = BulkExport.objects.create(clinic=clinic, requested_by=by, token=token, request=request,
                                           types=list(types), since=since)
        trail.record("create", object_type="bulk_export", object_id=export.pk, clinic_id=clinic.pk,
                     detail={"types": list(types), "since": since.isoformat() if since else None})
        transaction.on_commit(lambda: start(export.pk))
    return export


def start(export_id: int) -> None:
    """Run the export in a process of its own, unless the settings leave it to the worker."""
    if settings.KAPCLINIC_EXPORT_RUNNER != "process":
        return
    logs = Path(settings.DATA_DIR) / "exports"
    try:
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / "run-export.log", "ab") as log_file:  # what the process says, for support
            subprocess.Popen(  # noqa: S603 (our own command, fixed arguments)
                [sys.executable, "-m", "kapclinic.cli", "fhir", "run-export", str(export_id)],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, start_new_session=True)
    except OSError:
        log.exception("bulk export %s: could not start its process; the worker will try again", export_id)


def run(export_id: int) -> bool:
    """Run one waiting export to the end; False when it was not waiting (another runner has it)."""
    now = timezone.now()
    if not BulkExport.objects.filter(pk=export_id, state=ExportState.QUEUED).update(
            state=ExportState.RUNNING, started_at=now):
        return False
    export = BulkExport.objects.select_related("clinic").get(pk=export_id)
    folder = folder_of(export)
    last = [time.monotonic()]
    written: dict[str, int] = {}

    def progress(resource: str, n: int) -> None:
        written[resource] = written.get(resource, 0) + n
        if time.monotonic() - last[0] >= PROGRESS_EVERY:
            last[0] = time.monotonic()
            BulkExport.objects.filter(pk=export.pk, state=ExportState.RUNNING).update(
                progress=dict(written))

    base = export.request.split("/$export", 1)[0].split("/Group/", 1)[0]
    try:
        asked = bulk.Export(export.clinic, tuple(export.types), export.since,
                            requested_by=export.requested_by_id)
        manifest = bulk.write(
            asked, folder, progress=progress,
            url_of=lambda path: f"{base}/bulk/{export.pk}/{path.name}", request=export.request)
    except Exception as exc:  # the client is told it failed; the details stay in the log
        log.exception("bulk export %s failed", export.pk)
        shutil.rmtree(folder, ignore_errors=True)
        BulkExport.objects.filter(pk=export.pk, state=ExportState.RUNNING).update(
            state=ExportState.FAILED, finished_at=timezone.now(),
            error=f"The export stopped ({type(exc).__name__}); ask for it again.")
        return True
    hours = scoping.clinic_settings(InteropSettings, export.clinic_id).export_hours
    finished = timezone.now()
    done = BulkExport.objects.filter(pk=export.pk, state=ExportState.RUNNING).update(
        state=ExportState.DONE, manifest=manifest, progress=dict(written) | {
            entry["type"]: entry["count"] for entry in manifest["output"]},
        finished_at=finished, expires_at=finished + timedelta(hours=hours))
    if not done:  # cancelled while it ran: what it wrote goes too
        shutil.rmtree(folder, ignore_errors=True)
    return True


def delete_files(export: BulkExport, reason: str) -> None:
    shutil.rmtree(folder_of(export), ignore_errors=True)
    BulkExport.objects.filter(pk=export.pk).update(state=ExportState.DELETED)
    trail.record("update", object_type="bulk_export", object_id=export.pk, clinic_id=export.clinic_id,
                 detail={"files": "deleted", "why": reason})


def worker_step(clinic_id: int | None, now: datetime) -> int:
    """The worker's part: run the clinic's waiting exports, fail the ones that died, delete the
    files whose time is up."""
    done = 0
    exports = scoping.for_clinic(BulkExport, clinic_id)
    for export in exports.filter(state=ExportState.RUNNING, started_at__lt=now - STALE_AFTER):
        if BulkExport.objects.filter(pk=export.pk, state=ExportState.RUNNING).update(
                state=ExportState.FAILED, finished_at=now, error="The export stopped; ask for it again."):
            shutil.rmtree(folder_of(export), ignore_errors=True)
            done += 1
    waiting = exports.filter(state=ExportState.QUEUED).order_by("pk")
    if settings.KAPCLINIC_EXPORT_RUNNER == "process":
        # an export no process took in a quarter of an hour will not be: failed, so the client asks
        # again and the clinic's slot is free
        for export in waiting.filter(created_at__lt=now - NEVER_STARTED_AFTER):
            done += BulkExport.objects.filter(pk=export.pk, state=ExportState.QUEUED).update(
                state=ExportState.FAILED, finished_at=now,
                error="The export could not be started; ask again.")
        # an export whose process never started: start one (never run it here, where it would hold
        # up the alerts and messages of the worker's pass)
        for export_id in waiting.filter(created_at__lt=now - NOT_STARTED_AFTER).values_list("pk",
                                                                                           flat=True):
            start(export_id)
            done += 1
    else:
        for export_id in waiting.values_list("pk", flat=True):
            done += run(export_id)
    for export in exports.filter(state=ExportState.DONE, expires_at__lt=now):
        delete_files(export, "kept for the clinic's set time")
        done += 1
    return done
