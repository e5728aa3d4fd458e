"""The FHIR R4 REST API at /fhir/R4: capability statement, read, search and $everything.

The same credentials and permission matrix as /api/v1: an API token (``Authorization: Bearer``)
or a logged-in browser session, and each resource type read under the permission that reads
its records in the app. Errors are OperationOutcome resources. Another clinic's records do not
exist here (404), every read and every search result is written to the audit trail, and
every page is bounded (``_count`` at most 500, keyset paging).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied, TooManyFieldsSent
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from kapclinic.accounts.mfa import MfaRequired
from kapclinic.accounts.permissions import Action, NotAuthenticated, check
from kapclinic.accounts.scoping import get_for_user
from kapclinic.accounts.tokens import authenticate_token
from kapclinic.audit import trail

from .fhir import capability
from .fhir import resources as fhir
from .fhir.outcome import error, fhir_response
from .fhir.search import Cursor, Filter, SearchError, check_names, count_of, filter_for, number, page
from .fhir.sources import ALL_TYPES, PATIENT_TYPES, SOURCES, Source, practitioners, questionnaires

log = logging.getLogger(__name__)
# every permission a route here checks: each type's, the clinic's own resources', the export's
CHECKED_ACTIONS = frozenset({source.action for sources in SOURCES.values() for source in sources}
                            | {Action.SELF_VIEW, Action.PATIENT_VIEW, Action.FHIR_BULK_EXPORT})


class Unauthorized(Exception):
    pass


def _authenticate(request: HttpRequest) -> None:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized("Send 'Authorization: Bearer <token>' (see `kapclinic token create`).")
        if authenticate_token(request, secret.strip()) is None:
            raise Unauthorized("The token is wrong, expired or revoked: create a new one with "
                               "`kapclinic token create`.")
        return
    if not request.user.is_authenticated or getattr(request, "membership", None) is None:
        raise Unauthorized("Send 'Authorization: Bearer <token>' (see `kapclinic token create`) "
                           "or log in.")


def fhir_view(view: Callable[..., HttpResponse] | None = None, *, methods: tuple[str, ...] = ("GET",)
              ) -> Any:
    """Authentication, the methods allowed (GET by default), and every failure as an
    OperationOutcome."""
    if view is None:
        return lambda inner: fhir_view(inner, methods=methods)

    @csrf_exempt  # a token is not a cookie; a browser session may only GET
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        allowed = (*methods, "HEAD") if "GET" in methods else methods
        if request.method not in allowed:
            return error(405, "not-supported", f"{request.method} is not supported here; use "
                                               f"{' or '.join(methods)}.", Allow=", ".join(methods))
        if request.method != "GET" and not request.headers.get("Authorization"):
            return error(401, "login", "Send 'Authorization: Bearer <token>' (see `kapclinic token create`).",
                         WWW_Authenticate='Bearer realm="kapclinic"')
        try:
            _authenticate(request)
            return view(request, *args, **kwargs)
        except (Unauthorized, NotAuthenticated) as exc:
            return error(401, "login", str(exc) or "Log in or send an API token.",
                         WWW_Authenticate='Bearer realm="kapclinic"')
        except MfaRequired:
            return error(401, "login", "This browser session has not given its authenticator code "
                                       "yet: finish logging in, or use an API token.")
        except PermissionDenied as exc:
            return error(403, "forbidden", str(exc) or "Your role may not read this.")
        except Http404:
            return error(404, "not-found", "No such resource.")
        except SearchError as exc:
            return error(400, "invalid", str(exc), expression=exc.parameter)
        except TooManyFieldsSent:
            return error(400, "invalid", "The request has too many parameters: send fewer.")
        except Exception:
            log.exception("FHIR error on %s", request.path)
            return error(500, "exception", "Something went wrong on our side; quote request id "
                                           f"{getattr(request, 'request_id', '')} to support.")

    return wrapped


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/fhir/R4").rstrip("/")


def _params(request: HttpRequest, resource: str) -> dict[str, list[str]]:
    params = {name: request.GET.getlist(name) for name in request.GET}
    _no_nul(params)
    check_names(resource, list(params))
    wanted = (params.get("_format") or [""])[-1]
    if wanted and "json" not in wanted:
        raise SearchError("_format", "kapclinic answers FHIR in JSON only: use _format=json")
    return params


def _no_nul(params: dict[str, list[str]]) -> None:
    """A NUL character no database stores (PostgreSQL refuses it): a 400 naming the parameter."""
    for name, values in params.items():
        if "\x00" in name or any("\x00" in v for v in values):
            raise SearchError(name.replace("\x00", "")[:40] or "?", "holds a NUL character: remove it")


def _bundle(request: HttpRequest, resources: list[dict[str, Any]], next_cursor: Cursor | None) -> dict:
    base = _base(request)
    query = {k: v for k, v in request.GET.lists() if k != "_cursor"}
    self_url = request.build_absolute_uri(request.path)
    links = [{"relation": "self", "url": self_url + ("?" + request.GET.urlencode() if request.GET else "")}]
    if next_cursor is not None:
        links.append({"relation": "next",
                      "url": self_url + "?" + urlencode({**query, "_cursor": [next_cursor.encode()]},
                                                        doseq=True)})
    return {"resourceType": "Bundle", "type": "searchset", "timestamp": fhir.instant(timezone.now()),
            "link": links,
            "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in resources]}


def _audit_page(sent: list[tuple[Source, Any]], fallback: tuple[str, int | None]) -> None:
    from .fhir.sources import patient_ids_of

    events = []
    for source, row in sent:
        (patient_id,) = patient_ids_of(source, [row])
        events.append(trail.Event("list", source.record_type, row.pk, patient_id=patient_id))
    trail.record_many(events or [trail.Event("list", fallback[0], "", patient_id=fallback[1])])


# --- views -----------------------------------------------------------------------------------


@fhir_view
def metadata(request: HttpRequest) -> HttpResponse:
    check(request, Action.SELF_VIEW)
    return fhir_response(capability.statement(_base(request)))


@fhir_view
def search(request: HttpRequest, resource: str) -> HttpResponse:
    if resource not in ALL_TYPES:
        return _unknown_type(resource)
    params = _params(request, resource)
    count = count_of(params.get("_count", []))
    cursor = Cursor.decode(params["_cursor"][-1]) if params.get("_cursor") else Cursor()
    if resource not in SOURCES:
        return fhir_response(_bundle(request, *_clinic_page(request, resource, params, count, cursor)))
    plan = []
    own_system = fhir.mrn_system(request.membership.clinic.slug)
    for source in SOURCES[resource]:
        check(request, source.action)
        plan.append((source, filter_for(source, params, own_system=own_system)))
    found = page(plan, request.membership.clinic_id, count, cursor)
    patient = params.get("patient") or params.get("subject")
    _audit_page(found.sent, (SOURCES[resource][0].record_type,
                             number(patient[0].removeprefix("Patient/")) if patient and len(patient) == 1
                             else None))
    return fhir_response(_bundle(request, found.resources, found.next))


@fhir_view
def read(request: HttpRequest, resource: str, resource_id: str) -> HttpResponse:
    if resource not in ALL_TYPES:
        return _unknown_type(resource)
    if resource not in SOURCES:
        made, _ = _clinic_page(request, resource, {"_id": [resource_id]}, 1, Cursor())
        if not made:
            raise Http404
        return fhir_response(made[0])
    for source in SOURCES[resource]:
        check(request, source.action)
    for source in SOURCES[resource]:
        pk = source.ids(resource_id)
        if pk is None:
            continue
        rows = source.rows(request.membership.clinic_id)
        try:
            row = get_for_user(request, rows, pk, source.action)
        except Http404:
            continue
        for made in source.render([row])[0]:
            if made["id"] == resource_id:
                return fhir_response(made)
    raise Http404


@fhir_view
def everything(request: HttpRequest, patient_id: str) -> HttpResponse:
    """Everything kapclinic holds on one patient that the caller may read, in pages."""
    params = {name: request.GET.getlist(name) for name in request.GET}
    _no_nul(params)
    for name in params:
        if name not in ("_count", "_cursor", "_since", "_type", "_format"):
            raise SearchError(name, f"'{name}' is not a parameter of $everything; use _count, _since "
                                    "or _type")
    if number(patient_id) is None:
        raise Http404
    from kapclinic.patients.models import Patient

    check(request, Action.PATIENT_VIEW)
    patient = get_for_user(request, Patient, int(patient_id), Action.PATIENT_VIEW)
    types = _types(params.get("_type", []))
    since = {"_lastUpdated": [f"ge{params['_since'][-1]}"]} if params.get("_since") else {}
    plan: list[tuple[Source, Filter]] = []
    for resource in PATIENT_TYPES:
        for source in SOURCES[resource]:
            if resource not in types:
                continue
            check(request, source.action)
            plan.append((source, filter_for(source, since, patient_id=patient.pk)))
    count = count_of(params.get("_count", []))
    cursor = Cursor.decode(params["_cursor"][-1]) if params.get("_cursor") else Cursor()
    found = page(plan, request.membership.clinic_id, count, cursor)
    _audit_page(found.sent, ("patient", patient.pk))
    return fhir_response(_bundle(request, found.resources, found.next))


def _types(values: list[str]) -> set[str]:
    wanted = {t.strip() for v in values for t in v.split(",") if t.strip()}
    if not wanted:
        return set(PATIENT_TYPES)
    unknown = wanted - set(PATIENT_TYPES)
    if unknown:
        raise SearchError("_type", f"{', '.join(sorted(unknown))[:100]}: not a type of a patient's record; "
                                   f"use {', '.join(PATIENT_TYPES)}")
    return wanted


def _unknown_type(resource: str) -> HttpResponse:
    return error(404, "not-supported", f"kapclinic has no {resource[:60]} resources; it serves "
                                       f"{', '.join(ALL_TYPES)}.")


def _clinic_page(request: HttpRequest, resource: str, params: dict[str, list[str]], count: int,
                 cursor: Cursor) -> tuple[list[dict[str, Any]], Cursor | None]:
    """The clinic's own resources: itself, its staff, its questionnaires."""
    clinic = request.membership.clinic
    wanted = {v.strip() for value in params.get("_id", []) for v in value.split(",")} or None
    if resource == "Organization":
        check(request, Action.SELF_VIEW)
        made = [fhir.organization(clinic)]
    elif resource == "Questionnaire":
        check(request, Action.SELF_VIEW)
        made = questionnaires()
    else:
        check(request, Action.PATIENT_VIEW)
        users = practitioners(clinic.pk).filter(pk__gte=cursor.row)
        if wanted is not None:
            users = users.filter(pk__in=[n for n in map(number, wanted) if n is not None])
        rows = list(users[: count + 1])
        made = [fhir.practitioner(u) for u in rows[:count]]
        following = Cursor(0, rows[count].pk, 0) if len(rows) > count else None
        return made, following
    made = [r for r in made if wanted is None or r["id"] in wanted]
    start = cursor.row
    following = Cursor(0, start + count, 0) if len(made) > start + count else None
    return made[start: start + count], following


@fhir_view
def no_such_path(request: HttpRequest) -> HttpResponse:
    return error(404, "not-supported", "No FHIR interaction lives at this address: see /fhir/R4/metadata.")


# --- Bulk Data export (FHIR Bulk Data Access IG) -----------------------------------------------

NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")


def _token_of(request: HttpRequest):
    token = getattr(request, "api_token", None)
    if token is None:
        raise Unauthorized("A bulk export is asked for with an API token (Authorization: Bearer): "
                           "its files are served to that token only.")
    return token


@fhir_view
def export_kickoff(request: HttpRequest, group_id: str = "") -> HttpResponse:
    """Start an export of the clinic (system or Group level: the group is the clinic)."""
    from kapclinic.interop import bulk, jobs

    token = _token_of(request)
    check(request, Action.FHIR_BULK_EXPORT)
    clinic = request.membership.clinic
    if group_id and group_id != str(clinic.pk):
        raise Http404
    params = {name: request.GET.getlist(name) for name in request.GET}
    for name in params:
        if name not in ("_type", "_since", "_outputFormat"):
            raise SearchError(name, f"'{name}' is not a parameter of $export; use _type, _since or "
                                    "_outputFormat")
    if "respond-async" not in request.headers.get("Prefer", ""):
        raise SearchError("Prefer", "A bulk export runs in the background: send the header "
                                    "'Prefer: respond-async'")
    wanted = (params.get("_outputFormat") or [NDJSON])[-1]
    if wanted not in OUTPUT_FORMATS:
        raise SearchError("_outputFormat", f"'{wanted[:40]}' is not a format kapclinic writes; use {NDJSON}")
    try:
        types = bulk.check_types(",".join(params.get("_type", [])))
    except bulk.ExportError as exc:
        raise SearchError("_type", str(exc)) from None
    from .fhir.search import date_range

    since = date_range("_since", params["_since"][-1])[1] if params.get("_since") else None
    try:
        export = jobs.kick_off(clinic=clinic, by=request.user, token=token, types=types, since=since,
                               request=request.build_absolute_uri())
    except jobs.TooManyExports:
        return error(429, "throttled", f"{jobs.MAX_ACTIVE} exports of this clinic are already waiting or "
                                       "running: wait for one to finish (or cancel it), then ask again.",
                     Retry_After="60")
    response = HttpResponse(status=202)
    response["Content-Location"] = f"{_base(request)}/bulk/{export.pk}"
    return response


def _own_export(request: HttpRequest, export_id: str):
    from .models import BulkExport

    token = _token_of(request)
    check(request, Action.FHIR_BULK_EXPORT)
    if number(export_id) is None:
        raise Http404
    export = (BulkExport.objects.filter(pk=int(export_id), clinic_id=request.membership.clinic_id,
                                        token=token).first())
    if export is None:
        raise Http404
    return export


@fhir_view(methods=("GET", "DELETE"))
def export_status(request: HttpRequest, export_id: str) -> HttpResponse:
    """202 with its progress while it runs, 200 with the manifest when done; DELETE cancels it
    or deletes its files."""
    from .jobs import delete_files
    from .models import ExportState

    export = _own_export(request, export_id)
    if request.method == "DELETE":
        if export.state == ExportState.DELETED:
            raise Http404
        delete_files(export, "deleted by the client")
        return HttpResponse(status=202)
    if export.state in (ExportState.QUEUED, ExportState.RUNNING):
        done = sum(export.progress.values()) if export.progress else 0
        response = HttpResponse(status=202)
        response["X-Progress"] = ("waiting to start" if export.state == ExportState.QUEUED
                                  else f"{done:,} resources written")
        response["Retry-After"] = "5"
        return response
    if export.state == ExportState.FAILED:
        return error(500, "exception", export.error or "The export failed; ask for it again.")
    if export.state == ExportState.DELETED:
        return error(404, "not-found", "This export's files were deleted (their time was up, or "
                                       "they were deleted); ask for a new export.")
    response = fhir_response(export.manifest)
    response["Content-Type"] = "application/json"
    response["Expires"] = export.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return response


@fhir_view
def export_file(request: HttpRequest, export_id: str, filename: str) -> HttpResponse:
    from django.http import StreamingHttpResponse

    from .files import file_chunks
    from .jobs import folder_of
    from .models import ExportState

    export = _own_export(request, export_id)
    names = {Path(entry["url"]).name for entry in (export.manifest or {}).get("output", [])}
    path = folder_of(export) / filename
    if export.state != ExportState.DONE or filename not in names or not path.exists():
        raise Http404
    trail.record("read", object_type="bulk_export", object_id=export.pk, clinic_id=export.clinic_id,
                 detail={"file": filename})
    return StreamingHttpResponse(file_chunks(path), content_type=NDJSON)


# --- import --------------------------------------------------------------------------------------


@fhir_view(methods=("POST",))
def transaction_bundle(request: HttpRequest) -> HttpResponse:
    """A transaction Bundle of Patient, Condition and QuestionnaireResponse: all or nothing."""
    from django.conf import settings
    from django.core.exceptions import RequestDataTooBig

    from .fhir import importing

    _token_of(request)
    for action in (Action.PATIENT_CREATE, Action.PATIENT_EDIT, Action.MEASURE_ENTER):
        check(request, action)
    try:
        body = request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024
        return error(413, "too-costly", f"The Bundle is larger than {limit:,} KiB: split it into several.")
    try:
        document = importing.read_file(body.decode("utf-8"))
        if not isinstance(document, dict):
            raise importing.Refusal([("Bundle", "POST a Bundle of type transaction (NDJSON is for "
                                                "`kapclinic fhir import`)")])
        done = importing.import_resources(document, clinic=request.membership.clinic, by=request.user,
                                          source=f"FHIR API, token {request.api_token.pk}")
    except UnicodeDecodeError:
        return error(400, "invalid", "The body is not UTF-8 text: send the Bundle as JSON.")
    except importing.Refusal as refusal:
        issues = list(importing.as_issues(refusal))
        return fhir_response({"resourceType": "OperationOutcome", "issue": issues}, 422)
    return fhir_response(importing.outcomes_bundle(done, _base(request)))
