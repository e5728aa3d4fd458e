"""FHIR's error answer: an OperationOutcome saying what is wrong and how to fix it."""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpResponse

CONTENT_TYPE = "application/fhir+json; charset=utf-8"


def outcome(code: str, message: str, *, expression: str = "", severity: str = "error") -> dict[str, Any]:
    """``code`` from FHIR's issue-type codes (invalid, not-found, forbidden, login...);
    ``expression``: the element or parameter at fault."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": message,
                             "details": {"text": message}}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def fhir_response(body: dict[str, Any], status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type=CONTENT_TYPE)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def error(status: int, code: str, message: str, *, expression: str = "", **headers: str) -> HttpResponse:
    return fhir_response(outcome(code, message, expression=expression), status, **headers)
