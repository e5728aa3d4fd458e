"""FHIR Bulk Data export of a clinic: one NDJSON file per resource type and a manifest.

Streams: rows are read from one query in chunks of ``CHUNK`` (a server-side cursor on PostgreSQL)
and each resource is written as soon as it is made, so memory stays flat however large the
clinic. Each file is written under a temporary name and renamed
when complete: a file in the folder is never half-written. The export is in the audit trail:
one entry for the export (types, counts, since) and one per patient whose records left.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from django.utils import timezone

from kapclinic.accounts.models import Clinic
from kapclinic.audit import trail

from .fhir import resources as fhir
from .fhir.search import since_q
from .fhir.sources import ALL_TYPES, SOURCES, Source, practitioners, questionnaires

CHUNK = 2_000
AUDIT_CHUNK = 1_000


class ExportError(ValueError):
    """A request the export cannot take; ``field`` names the option."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass
class Export:
    clinic: Clinic
    types: tuple[str, ...] = ALL_TYPES
    since: datetime | None = None
    requested_by: int | None = None  # the user who asked over the API
    counts: dict[str, int] = field(default_factory=dict)
    patients: set[int] = field(default_factory=set)


def check_types(text: str) -> tuple[str, ...]:
    if not text.strip():
        return ALL_TYPES
    wanted = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in ALL_TYPES]
    if unknown:
        raise ExportError("type", f"{', '.join(unknown)[:100]} is not a type kapclinic exports; use "
                                  f"{', '.join(ALL_TYPES)}")
    return tuple(t for t in ALL_TYPES if t in wanted)


def _rows(source: Source, clinic_id: int, since: datetime | None) -> Iterator[list[Any]]:
    """The source's rows in chunks, in id order, from one query read as it goes (a server-side
    cursor on PostgreSQL), so memory holds a chunk at a time."""
    rows = source.rows(clinic_id)
    if since is not None:
        rows = rows.filter(since_q(source, since))
    chunk: list[Any] = []
    for row in rows.order_by("pk").iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def resources_of(export: Export, resource: str) -> Iterator[dict[str, Any]]:
    """Every resource of one type, in id order, noting whose records they are."""
    clinic = export.clinic
    if resource == "Organization":
        yield fhir.organization(clinic)
    elif resource == "Questionnaire":
        yield from questionnaires()
    elif resource == "Practitioner":
        for user in practitioners(clinic.pk).iterator(chunk_size=CHUNK):
            yield fhir.practitioner(user)
    else:
        for source in SOURCES[resource]:
            patient_of = _patient_getter(source)
            for chunk in _rows(source, clinic.pk, export.since):
                export.patients.update(patient_of(row) for row in chunk)
                for made in source.render(chunk):
                    yield from made


def _patient_getter(source: Source) -> Callable[[Any], int]:
    if source.patient == "pk":
        return lambda row: row.pk
    if source.patient == "session__patient_id":
        return lambda row: row.session.patient_id
    return lambda row: row.patient_id


def write(export: Export, folder: Path, *, progress: Callable[[str, int], None] | None = None,
          url_of: Callable[[Path], str] | None = None, request: str = "") -> dict:
    """The export's NDJSON files and ``manifest.json`` in ``folder``; returns the manifest.
    ``url_of`` gives a file's address in the manifest (default: its file: URI); ``request`` the
    request that asked for it (default: the command line)."""
    folder.mkdir(parents=True, exist_ok=True)
    started = timezone.now()
    output = []
    for resource in export.types:
        path = folder / f"{resource}.ndjson"
        partial = path.with_suffix(".ndjson.partial")
        count = 0
        with open(partial, "wb") as out:
            for made in resources_of(export, resource):
                out.write(orjson.dumps(made, option=orjson.OPT_APPEND_NEWLINE))
                count += 1
                if progress is not None and count % CHUNK == 0:
                    progress(resource, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        if progress is not None:
            progress(resource, count % CHUNK)
        os.replace(partial, path)
        export.counts[resource] = count
        if count:
            output.append({"type": resource, "count": count,
                           "url": url_of(path) if url_of else path.resolve().as_uri()})
    manifest = {"transactionTime": fhir.instant(started),
                "request": request or _request_text(export),
                "requiresAccessToken": url_of is not None, "output": output, "error": []}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    audit(export)
    return manifest


def _request_text(export: Export) -> str:
    text = f"kapclinic fhir bulk-export --clinic {export.clinic.slug}"
    if export.types != ALL_TYPES:
        text += f" --type {','.join(export.types)}"
    if export.since is not None:
        text += f" --since {fhir.instant(export.since)}"
    return text


def audit(export: Export) -> None:
    trail.record("export", object_type="fhir_export", object_id=export.clinic.slug,
                 clinic_id=export.clinic.pk,
                 detail={"types": list(export.types), "counts": export.counts,
                         "since": fhir.instant(export.since), "patients": len(export.patients),
                         "requested_by": export.requested_by})
    ids = sorted(export.patients)
    for start in range(0, len(ids), AUDIT_CHUNK):
        trail.record_many([trail.Event("export", "patient", pk, patient_id=pk, clinic_id=export.clinic.pk)
                           for pk in ids[start:start + AUDIT_CHUNK]])
