"""The CapabilityStatement: what /fhir/R4 serves, read from the sources so it cannot drift."""

from __future__ import annotations

from typing import Any

from kapclinic import __version__

from .search import allowed
from .sources import ALL_TYPES

PARAMETER_TYPES = {"_id": "token", "_lastUpdated": "date", "identifier": "token", "birthdate": "date",
                   "patient": "reference", "subject": "reference", "date": "date", "code": "token"}


def statement(base: str) -> dict[str, Any]:
    resources = []
    for resource in ALL_TYPES:
        entry: dict[str, Any] = {
            "type": resource,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [{"name": name, "type": PARAMETER_TYPES[name]}
                            for name in allowed(resource) if name in PARAMETER_TYPES],
        }
        if resource == "Patient":
            entry["operation"] = [{"name": "everything",
                                   "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-01",
        "kind": "instance",
        "software": {"name": "kapclinic", "version": __version__},
        "implementation": {"description": "kapclinic FHIR R4 API", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": {"cors": False, "description": "An API token of the clinic (Authorization: Bearer), "
                                                       "or a logged-in session; reads need the read scope."},
            "resource": resources,
            "interaction": [{"code": "transaction", "documentation": "Patient, Condition and "
                             "QuestionnaireResponse, all or nothing (a write token)"}],
            "operation": [{"name": "export",
                           "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}],
        }],
    }
