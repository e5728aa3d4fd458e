"""The session as the API and the pages read it: plain dicts, in a fixed number of queries."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from kapclinic.accounts.permissions import Action
from kapclinic.accounts.scoping import get_for_user
from kapclinic.alerts.models import Alert
from kapclinic.treatment.models import (
    ALERT_SOURCE,
    READING_RECORD,
    VITAL_FIELDS,
    Administration,
    ChecklistEntry,
    Session,
    SessionEvent,
    VitalReading,
)


def session_for_user(request: HttpRequest, session_id: int, action: Action, *,
                     audit_read: bool = False) -> Session:
    """The session if it is of the user's clinic and their role may ``action`` it (404 otherwise):
    for the pages and the API alike."""
    return get_for_user(request, Session.objects.select_related("patient__clinic"), session_id, action,
                        audit_read=audit_read)


def _user(user_id: int | None, names: dict[int, str]) -> str:
    return names.get(user_id, "") if user_id is not None else ""


def event_out(e: SessionEvent) -> dict[str, Any]:
    return {"id": e.pk, "from": e.from_state, "to": e.to_state, "at": e.at, "recorded_at": e.recorded_at,
            "recorded_by_id": e.recorded_by_id, "reason": e.reason, "late_reason": e.late_reason}


def checklist_out(c: ChecklistEntry) -> dict[str, Any]:
    return {"id": c.pk, "item": c.item, "answer": c.answer, "value": c.value, "note": c.note,
            "at": c.at, "recorded_at": c.recorded_at, "recorded_by_id": c.recorded_by_id}


def administration_out(a: Administration) -> dict[str, Any]:
    return {"id": a.pk, "drug": a.drug, "route": a.route, "product_ndc": a.product_ndc,
            "concentration_mg_per_ml": a.concentration_mg_per_ml, "lot": a.lot,
            "dose_mg": a.dose_mg, "dose_mg_per_kg": a.dose_mg_per_kg, "weight_kg": a.weight_kg,
            "weight_measured_on": a.weight_measured_on, "started_at": a.started_at,
            "ended_at": a.ended_at, "rate_mg_per_min": a.rate_mg_per_min,
            "within_protocol": a.within_protocol, "messages": (a.calculation or {}).get("messages", []),
            "override_reason": a.override_reason, "second_clinician_id": a.second_clinician_id,
            "second_clinician_confirmed_at": a.second_clinician_confirmed_at,
            "administered_by_id": a.administered_by_id,
            "entered_in_error": a.entered_in_error_at is not None}


def reading_out(r: VitalReading) -> dict[str, Any]:
    return {"id": r.pk, "session_id": r.session_id, "observed_at": r.observed_at,
            "recorded_at": r.recorded_at, "recorded_by_id": r.recorded_by_id, "phase": r.phase,
            **{name: getattr(r, name) for name in VITAL_FIELDS},
            "source": r.source, "device": r.device or None,
            "entered_in_error": r.entered_in_error_at is not None}


def reading_items(r: VitalReading) -> list[dict[str, Any]]:
    """One reading as observations: each value with its code (LOINC), UCUM unit, time and source."""
    from kapclinic.clinical.monitoring.devices import field_code

    items = []
    for name in VITAL_FIELDS:
        value = getattr(r, name)
        if value is None:
            continue
        code = field_code(name)
        items.append({"reading_id": r.pk, "session_id": r.session_id, "code": code["code"],
                      "system": code["system"], "display": code["display"], "value": value,
                      "unit": code["unit"], "observed_at": r.observed_at, "source": r.source,
                      "device": r.device or None,
                      "entered_in_error": r.entered_in_error_at is not None})
    return items


def alert_out(a: Alert) -> dict[str, Any]:
    return {"id": a.pk, "kind": a.kind, "label": a.label, "priority": a.priority,
            "recommended_action": a.recommended_action, "raised_at": a.raised_at,
            "record_id": a.record_id, "acknowledged": a.acknowledged_at is not None}


def session_alerts(reading_ids: list[int]) -> list[Alert]:
    if not reading_ids:
        return []
    return list(Alert.objects.filter(source=ALERT_SOURCE, record_type=READING_RECORD,
                                     record_id__in=reading_ids).order_by("raised_at", "id"))


def session_detail(session: Session) -> dict[str, Any]:
    """Everything about one session (six queries, whatever its length)."""
    readings = list(VitalReading.objects.filter(session=session).order_by("observed_at", "id"))
    return {
        "id": session.pk, "patient_id": session.patient_id, "protocol": session.protocol,
        "protocol_label": session.protocol_label,
        "protocol_version": session.protocol_version, "drug": session.drug, "route": session.route,
        "scheduled_at": session.scheduled_at, "room": session.room, "chair": session.chair,
        "state": session.state, "state_words": session.state_words, "state_at": session.state_at,
        "version": session.version, "end_reason": session.end_reason,
        "events": [event_out(e) for e in SessionEvent.objects.filter(session=session).order_by("id")],
        "checklist": [checklist_out(c) for c in ChecklistEntry.objects.filter(session=session)],
        "administrations": [administration_out(a)
                            for a in Administration.objects.filter(session=session)],
        "vitals": [reading_out(r) for r in readings],
        "alerts": [alert_out(a) for a in session_alerts([r.pk for r in readings])],
    }
