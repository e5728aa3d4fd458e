"""Where a dose stands after it started, from its ``AdministrationEvent``s (no query here).

For an infusion: running, paused or stopped, and the minutes it ran and was paused; for a
nasal spray: the devices given and the devices the dose takes (clinical.md 3.4, Device row:
"28 mg per device (2 sprays, one per nostril); 56 mg = 2 devices, 84 mg = 3 devices; 5-min
rest between devices"; the protocol file carries both numbers as ``device_mg`` and
``device_rest_minutes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kapclinic.clinical.protocols import Protocol
from kapclinic.treatment.models import Administration, AdministrationEvent, AdministrationEventKind

Kind = AdministrationEventKind


def infusion_state(events: Sequence[AdministrationEvent]) -> str:
    """``running``, ``paused`` or ``stopped`` after ``events`` (in order)."""
    state = "running"
    for e in events:
        if e.kind == Kind.PAUSE:
            state = "paused"
        elif e.kind == Kind.RESUME:
            state = "running"
        elif e.kind == Kind.STOP:
            state = "stopped"
    return state


def device_mg(protocol: Protocol) -> float | None:
    """mg per device of a nasal spray protocol; None for any other."""
    return None if protocol.model.device_mg is None else protocol.number(protocol.model.device_mg)


def device_rest_minutes(protocol: Protocol) -> float | None:
    rest = protocol.model.device_rest_minutes
    return None if rest is None else protocol.number(rest)


def devices_for(dose_mg: float, per_device: float) -> int:
    """Devices a dose takes (56 mg of 28 mg devices: 2); the dose rules keep it whole."""
    return max(1, round(dose_mg / per_device))


def summary(administration: Administration | None, events: Sequence[AdministrationEvent],
            protocol: Protocol, now: datetime) -> dict[str, Any] | None:
    """The dose's course for the API, the board and the pages."""
    if administration is None:
        return None
    mine = [e for e in events if e.administration_id == administration.pk]
    per_device = device_mg(protocol)
    if per_device is not None:
        given = [e for e in mine if e.kind == Kind.DEVICE]
        return {"kind": "devices", "device_mg": per_device,
                "devices_expected": devices_for(administration.dose_mg, per_device),
                "devices_given": len(given),
                "first_device_at": given[0].at if given else None,
                "last_device_at": given[-1].at if given else None}
    if protocol.infusion_minutes is None:
        return {"kind": "single"}
    paused = 0.0
    paused_since: datetime | None = None
    for e in mine:
        if e.kind == Kind.PAUSE:
            paused_since = e.at
        elif e.kind in (Kind.RESUME, Kind.STOP) and paused_since is not None:
            paused += (e.at - paused_since).total_seconds()
            paused_since = None
    end = administration.ended_at or now
    if paused_since is not None:
        paused += max(0.0, (end - paused_since).total_seconds())
    ran = max(0.0, (end - administration.started_at).total_seconds() - paused)
    state = "ended" if administration.ended_at and infusion_state(mine) != "stopped" \
        else infusion_state(mine)
    return {"kind": "infusion", "state": state, "minutes_running": round(ran / 60, 1),
            "minutes_paused": round(paused / 60, 1), "planned_minutes": protocol.infusion_minutes}


def event_out(e: AdministrationEvent) -> dict[str, Any]:
    return {"id": e.pk, "administration_id": e.administration_id, "kind": e.kind,
            "kind_words": e.get_kind_display(), "at": e.at, "device_number": e.device_number,
            "device_mg": e.device_mg, "reason": e.reason, "alert_id": e.alert_id,
            "recorded_at": e.recorded_at, "recorded_by_id": e.recorded_by_id,
            "late_reason": e.late_reason}
