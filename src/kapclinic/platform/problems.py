"""RFC 9457 problem details, for every answer under /api (the API's own errors, and the
404/405/413/500 that Django or the router would otherwise answer in HTML)."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from ninja.errors import ValidationError

API_PREFIX = "/api/"
CONTENT_TYPE = "application/problem+json"


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def problem_response(request: HttpRequest, status: int, title: str, detail: str,
                     errors: list[dict] | None = None) -> HttpResponse:
    body: dict = {"type": "about:blank", "title": title, "status": status, "detail": detail,
                  "instance": request.path}
    if errors is not None:
        body["errors"] = errors
    return HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE)


def not_found(request: HttpRequest) -> HttpResponse:
    return problem_response(request, 404, "Not found",
                            "There is no such resource or endpoint; the endpoints are listed in "
                            "/api/v1/openapi.json.")


def size_limit_text(limit_bytes: int) -> str:
    """2621440 -> '2.5 MB' (binary megabytes, as Django counts them)."""
    return f"{limit_bytes / (1024 * 1024):g} MB"


def field_refusal(field: str, message: str, where: str = "body") -> ValidationError:
    """A 422 naming one field of the request (``where``: body or query), raised by an endpoint
    whose check the schema could not make; answered as problem details like the schema's own."""
    return ValidationError([{"loc": [where, field], "msg": message}])
