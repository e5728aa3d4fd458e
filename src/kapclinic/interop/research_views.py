"""The researcher's page: make the clinic's de-identified data set and download it.

Nothing identifiable is shown or served: the page lists the columns and the last export's
report (counts, the generalisation used, the smallest group); the files are the data set, its
data dictionary and its report, made by interop.research."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from kapclinic.accounts import scoping
from kapclinic.accounts.permissions import Action, require
from kapclinic.audit import trail

from . import research
from .files import file_chunks
from .models import InteropSettings

FORMATS = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv; charset=utf-8"}
FILES = {"data.parquet": FORMATS["parquet"], "data.csv": FORMATS["csv"],
         "data.dictionary.csv": FORMATS["csv"], "data.report.json": "application/json"}


def folder_of(clinic_id: int) -> Path:
    return Path(settings.DATA_DIR) / "research" / str(clinic_id)


def _report(clinic_id: int) -> dict | None:
    path = folder_of(clinic_id) / "data.report.json"
    return json.loads(path.read_text()) if path.exists() else None


@require(Action.RESEARCH_EXPORT)
@require_GET
def research_page(request: HttpRequest) -> HttpResponse:
    clinic = request.membership.clinic
    folder = folder_of(clinic.pk)
    return render(request, "interop/research.html", {
        "columns": research.COLUMNS, "report": _report(clinic.pk),
        "files": [name for name in FILES if (folder / name).exists()],
        "chosen": scoping.clinic_settings(InteropSettings, clinic.pk),
    })


@require(Action.RESEARCH_EXPORT)
@require_POST
def research_make(request: HttpRequest) -> HttpResponse:
    """Make the data set in the chosen format (the other format's file is removed: the files on
    the page are always of one export)."""
    clinic = request.membership.clinic
    kind = request.POST.get("format", "parquet")
    if kind not in FORMATS:
        kind = "parquet"
    folder = folder_of(clinic.pk)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        research.export(clinic, folder / f"data.{kind}")
    except research.ResearchKeyDamaged:
        messages.error(request, "The installation's research key is damaged, so no data set was made: "
                                "ask the clinic's administrator to restore it from its backup.")
        return redirect("research")
    (folder / f"data.{'csv' if kind == 'parquet' else 'parquet'}").unlink(missing_ok=True)
    return redirect("research")


@require(Action.RESEARCH_EXPORT)
@require_GET
def research_file(request: HttpRequest, file_name: str) -> HttpResponse:
    name = file_name
    path = folder_of(request.membership.clinic_id) / name
    if name not in FILES or not path.exists():
        raise Http404("No such file")
    trail.record("read", object_type="research_export", object_id=name,
                 clinic_id=request.membership.clinic_id)
    download = f"kapclinic-research-{request.membership.clinic.slug}{name.removeprefix('data')}"
    response = StreamingHttpResponse(file_chunks(path), content_type=FILES[name])
    response["Content-Disposition"] = f'attachment; filename="{download}"'
    return response
