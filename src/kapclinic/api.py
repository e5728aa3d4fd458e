"""The JSON API under /api/v1 (django-ninja). Errors are RFC 9457 problem details."""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from kapclinic.accounts import tokens_api
from kapclinic.accounts.mfa import MfaRequired
from kapclinic.patients.actions import ConflictError
from kapclinic.platform import extensions, idempotency, problems
from kapclinic.web import api as web_api

log = logging.getLogger(__name__)


def _problem_for_405(view):
    """The router answers a wrong method with an empty HTML 405: answer a problem instead."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and response.get("Content-Type", "").startswith(
                "text/html"):
            allowed = response.get("Allow", "")
            answer = problems.problem_response(
                request, 405, "Method not allowed",
                f"{request.method} is not allowed here; use {allowed or 'another method'}.")
            answer["Allow"] = allowed
            return answer
        return response

    return wrapped


@csrf_exempt  # a POST to no endpoint is a 404, not a CSRF page
def _no_such_endpoint(request: HttpRequest, rest: str = "") -> HttpResponse:
    return problems.not_found(request)


class ProblemAPI(NinjaAPI):
    """Everything under /api/v1 answers problem details: a wrong method (405) and a path no
    endpoint has (404) too, not Django's HTML pages."""

    def _get_urls(self):
        urls = super()._get_urls()
        for pattern in urls:
            pattern.callback = _problem_for_405(pattern.callback)
        return [*urls, re_path(r"^(?P<rest>.*)$", _no_such_endpoint)]


api = ProblemAPI(
    title="kapclinic API", version="1", urls_namespace="api",
    docs_url=None,  # the interactive docs page loads assets from a CDN; openapi.json stays
)
# each app's router, registered from its AppConfig.ready()
for entry in extensions.api_routers():
    api.add_router(entry.prefix, entry.router)
api.add_router("", web_api.router)
# Every write (POST, PATCH, DELETE) accepts an Idempotency-Key: a repeat gets the first answer.
idempotency.install(api)
api.add_router("/tokens", tokens_api.router)


def problem(request: HttpRequest, status: int, title: str, detail: str,
            errors: list[dict] | None = None) -> HttpResponse:
    return problems.problem_response(request, status, title, detail, errors)


def _field_name(location: list) -> str:
    parts = [str(part) for part in location if part not in ("body", "payload", "query", "path")]
    return ".".join(parts) or "body"


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    errors = []
    for error in exc.errors:
        message = error.get("msg", "is not valid")
        if error.get("type") == "extra_forbidden":
            message = "is not a known field: remove it"
        elif error.get("type") == "json_invalid" or "JSON" in message:
            message = f"the body is not valid JSON ({message})"
        errors.append({"field": _field_name(list(error.get("loc", []))), "message": message})
    return problem(request, 422, "Invalid request",
                   "One or more fields are invalid; see errors.", errors)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    return problem(request, 401, "Not authenticated",
                   "Send 'Authorization: Bearer <token>' (see `kapclinic token create`) "
                   "or log in.")


@api.exception_handler(MfaRequired)
def on_mfa_pending(request, exc):
    return problem(request, 401, "Two-factor login not completed",
                   "This browser session has not given its authenticator code yet: finish "
                   "logging in at /login/verify/ (or enrol at /account/two-factor/), or use an "
                   "API token.")


@api.exception_handler(PermissionDenied)
def on_forbidden(request, exc):
    return problem(request, 403, "Forbidden", str(exc) or "Your role may not do this.")


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return problem(request, 404, "Not found", "No such resource.")


@api.exception_handler(ConflictError)
def on_conflict(request, exc: ConflictError):
    return problem(request, 409, "Edit conflict", str(exc),
                   [{"field": "version", "message": f"the record is now at version "
                                                    f"{exc.current.version}"}])


@api.exception_handler(idempotency.BadKey)
def on_bad_idempotency_key(request, exc):
    return problem(request, 422, "Invalid request", str(exc),
                   [{"field": idempotency.KEY_HEADER, "message": str(exc)}])


@api.exception_handler(idempotency.KeyReused)
def on_idempotency_key_reused(request, exc):
    return problem(request, 422, "Idempotency-Key reused", str(exc),
                   [{"field": idempotency.KEY_HEADER, "message": "was used for a different "
                                                               "request"}])


@api.exception_handler(idempotency.StillRunning)
def on_idempotent_request_running(request, exc):
    response = problem(request, 409, "Request still in progress",
                       f"The first request with this {idempotency.KEY_HEADER} is still being "
                       "processed: retry in a moment to get its answer.")
    response["Retry-After"] = "1"
    return response


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return problem(request, exc.status_code, "Request failed", str(exc))


@api.exception_handler(RequestDataTooBig)
def on_too_big(request, exc):
    limit = problems.size_limit_text(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    return problem(request, 413, "Request body too large",
                   f"The body is larger than the {limit} limit: send less (e.g. split the "
                   "records over several requests).")


@api.exception_handler(Exception)
def on_unexpected(request, exc: Exception):
    log.exception("API error on %s", request.path)
    return problem(request, 500, "Server error",
                   f"Something went wrong on our side; quote request id "
                   f"{getattr(request, 'request_id', '')} to support.")
