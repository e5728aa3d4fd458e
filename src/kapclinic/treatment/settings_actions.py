"""Saving a clinic's session settings and its REMS form details (the settings pages).

    save_session_settings(*, clinic_id, values, by, expected_version) -> TreatmentSettings
        late-entry allowance, rooms and chairs, each protocol's preset and settings, the
        monitoring rules' preset and values; compare-and-swap on ``version``.
    save_rems_details(*, clinic_id, values, by, expected) -> RemsFormDetails
        the clinic's healthcare-setting details for the Spravato REMS form and its reminder
        day; compare-and-swap on a fingerprint of the stored details (the table has no version).

Both check every value here too (``SettingsError`` naming the field), whoever calls, and
write one audit entry naming what changed, old and new (settings are no health information).
A session keeps the settings it was scheduled with (``actions.schedule_session``), so a save
changes the sessions booked after it, never one already booked.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from kapclinic.accounts.models import User
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.clinical import protocols as core
from kapclinic.clinical import rems
from kapclinic.clinical.monitoring import MonitoringError, load_rules
from kapclinic.clinical.protocols.course import OPEN_WEEKS_BOUNDS, THERAPY_DAYS_BOUNDS
from kapclinic.treatment.models import LATE_ENTRY_MINUTES_BOUNDS, MonitorDevice, TreatmentSettings
from kapclinic.treatment.rems_models import RemsFormDetails

# Engineering bounds on the rooms list (the session form offers each room's chairs).
MAX_ROOMS = 40
MAX_CHAIRS = 30
NAME_MAX = 60  # Session.room and Session.chair hold 60 characters

# a course's therapy timing and planning reach (course_models for the labelled defaults)
COURSE_FIELDS = ("preparation_days_before", "integration_days_after", "course_open_weeks")
COURSE_BOUNDS = {"preparation_days_before": THERAPY_DAYS_BOUNDS,
                 "integration_days_after": THERAPY_DAYS_BOUNDS, "course_open_weeks": OPEN_WEEKS_BOUNDS}
SESSION_FIELDS = ("late_entry_minutes", "rooms", "protocol_settings", "protocol_presets",
                  "monitoring_values", "monitoring_preset", *COURSE_FIELDS)
REMS_FIELDS = ("setting_name", "address", "city", "state", "zip_code", "form_version",
               "remind_after_days")
ZIP = re.compile(r"^\d{5}(-\d{4})?$")  # a US ZIP code or ZIP+4 (the form asks for a ZIP)


class SettingsError(ValueError):
    """A value that cannot be saved; ``field`` names it (``iv_racemic_ketamine.dose_cap``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class SettingsConflict(Exception):
    """Someone saved these settings since this form was loaded; nothing was written."""

    def __init__(self) -> None:
        super().__init__("These settings were changed by someone else since you opened the page: "
                         "nothing was saved. Your entries are still below; reload the page in "
                         "another tab to see their changes, then save yours again.")


# ---- checks (shared by the form and the action) -----------------------------------------

def check_late_entry(minutes: Any) -> None:
    lo, hi = LATE_ENTRY_MINUTES_BOUNDS
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not lo <= minutes <= hi:
        raise SettingsError("late_entry_minutes", f"must be a whole number of minutes from {lo} to {hi}")


def check_rooms(rooms: Any) -> list[dict[str, Any]]:
    """``[{"name": "Room 1", "chairs": ["A", "B"]}]``: names unique, short, at most MAX_ROOMS."""
    if not isinstance(rooms, list):
        raise SettingsError("rooms", "must be a list of rooms")
    if len(rooms) > MAX_ROOMS:
        raise SettingsError("rooms", f"at most {MAX_ROOMS} rooms")
    seen: set[str] = set()
    out = []
    for room in rooms:
        name = room.get("name") if isinstance(room, dict) else None
        chairs = room.get("chairs", []) if isinstance(room, dict) else None
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
            raise SettingsError("rooms", f"each room needs a name of 1 to {NAME_MAX} characters")
        name = name.strip()
        if name.casefold() in seen:
            raise SettingsError("rooms", f"'{name}' is listed twice")
        seen.add(name.casefold())
        if not isinstance(chairs, list) or len(chairs) > MAX_CHAIRS or not all(
                isinstance(c, str) and c.strip() and len(c.strip()) <= NAME_MAX for c in chairs):
            raise SettingsError("rooms", f"'{name}': at most {MAX_CHAIRS} chairs, each named in 1 "
                                         f"to {NAME_MAX} characters")
        names = [c.strip() for c in chairs]
        if len({c.casefold() for c in names}) != len(names):
            raise SettingsError("rooms", f"'{name}' lists a chair twice")
        out.append({"name": name, "chairs": names})
    return out


def configured_protocol(protocol_id: str, values: Mapping[str, Any],
                        preset: str | None) -> core.Protocol:
    """The protocol with these choices, or SettingsError naming ``protocol.setting``."""
    try:
        protocol = core.resolve(protocol_id)
    except core.UnknownProtocolError as exc:
        raise SettingsError("protocol", str(exc).split(": ", 1)[-1]) from exc
    try:
        return protocol.configured(values, preset=preset or None)
    except core.ProtocolSettingError as exc:
        raise SettingsError(f"{protocol_id}.{exc.field}", str(exc).split(": ", 1)[-1]) from exc


def check_monitoring(values: Mapping[str, Any], preset: str | None) -> None:
    try:
        load_rules().resolve(values, preset=preset or None)
    except MonitoringError as exc:
        raise SettingsError(f"monitoring.{exc.field}", str(exc).split(": ", 1)[-1]) from exc


def _check_session_values(values: Mapping[str, Any], stored: TreatmentSettings) -> dict[str, Any]:
    unknown = set(values) - set(SESSION_FIELDS)
    if unknown:
        raise SettingsError(sorted(unknown)[0], "is not a session setting")
    out = dict(values)
    if "late_entry_minutes" in values:
        check_late_entry(values["late_entry_minutes"])
    if "rooms" in values:
        out["rooms"] = check_rooms(values["rooms"])
    for name in COURSE_FIELDS:
        if name in values:
            lo, hi = COURSE_BOUNDS[name]
            number = values[name]
            if isinstance(number, bool) or not isinstance(number, int) or not lo <= number <= hi:
                raise SettingsError(name, f"must be a whole number from {lo} to {hi}")
    chosen = dict(stored.protocol_settings or {}) | dict(values.get("protocol_settings") or {})
    presets = dict(stored.protocol_presets or {}) | dict(values.get("protocol_presets") or {})
    installed = core.load_all()
    for protocol_id in set(values.get("protocol_settings") or {}) | set(values.get("protocol_presets") or {}):
        configured_protocol(protocol_id, chosen.get(protocol_id) or {}, presets.get(protocol_id))
    # a protocol whose file the clinic removed keeps its stored choices (for when it returns)
    out["protocol_settings"] = {k: v for k, v in chosen.items() if v or k not in installed}
    out["protocol_presets"] = {k: v for k, v in presets.items() if v}
    if "monitoring_values" in values or "monitoring_preset" in values:
        check_monitoring(values.get("monitoring_values", stored.monitoring_values) or {},
                         values.get("monitoring_preset", stored.monitoring_preset))
    return {name: out[name] for name in SESSION_FIELDS if name in out}


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any],
                    prefix: str = "") -> dict[str, list[Any]]:
    """{"protocol_settings.iv_racemic_ketamine.dose_cap": [1.0, 0.8]}: each leaf that changed."""
    out: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) or isinstance(new, dict):
            out.update(changes_between(old or {}, new or {}, f"{prefix}{key}."))
        elif old != new:
            out[f"{prefix}{key}"] = [old, new]
    return out


@action
def save_session_settings(*, clinic_id: int, values: dict[str, Any], by: User | None,
                          expected_version: int) -> TreatmentSettings:
    """Save ``values`` (any of SESSION_FIELDS; ``protocol_settings`` and ``protocol_presets``
    by protocol id, replacing that protocol's entry) if the settings are still at
    ``expected_version``; SettingsConflict otherwise, SettingsError for a value that cannot
    be chosen. The clinic's first save creates its row."""
    with transaction.atomic():
        TreatmentSettings.objects.get_or_create(clinic_id=clinic_id)
        before = TreatmentSettings.objects.select_for_update().get(clinic_id=clinic_id)
        if before.version != expected_version:
            raise SettingsConflict()
        cleaned = _check_session_values(values, before)
        old = {name: getattr(before, name) for name in cleaned}
        changes = changes_between(old, cleaned)
        if not changes:
            return before  # nothing to change: no new version, no entry
        TreatmentSettings.objects.filter(pk=before.pk, version=expected_version).update(
            **cleaned, version=F("version") + 1)
        trail.record("update", object_type="treatment_settings", object_id=before.pk,
                     clinic_id=clinic_id, detail={"changes": changes, "version": before.version + 1})
        return TreatmentSettings.objects.get(pk=before.pk)


# ---- the REMS form details ------------------------------------------------------------

def rems_fingerprint(details: RemsFormDetails) -> str:
    """What the details were when a form was loaded (a save from an older copy is refused)."""
    body = json.dumps({name: getattr(details, name) for name in REMS_FIELDS}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def _check_rems_values(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(REMS_FIELDS)
    if unknown:
        raise SettingsError(sorted(unknown)[0], "is not a REMS form detail")
    out = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    version = out.get("form_version", rems.DEFAULT_VERSION)
    try:
        form = rems.get_form(version)
    except rems.RemsFormError as exc:
        raise SettingsError("form_version", exc.problem) from exc
    if "remind_after_days" in out:
        days = out["remind_after_days"]
        setting = form.remind_after_days
        if isinstance(days, bool) or not isinstance(days, int) or setting.problem(days) is not None:
            raise SettingsError("remind_after_days", f"must be a whole number of days from "
                                                     f"{setting.minimum:g} to {setting.maximum:g}")
    if out.get("zip_code") and not ZIP.match(out["zip_code"]):
        raise SettingsError("zip_code", "must be a 5-digit ZIP code (or ZIP+4, 12345-6789)")
    try:
        RemsFormDetails(**out).clean_fields(exclude=["clinic"] + [
            f.name for f in RemsFormDetails._meta.fields if f.name not in out])
    except ValidationError as exc:
        name, problems = next(iter(exc.message_dict.items()))
        raise SettingsError(name, problems[0]) from exc
    return out


@action
def save_rems_details(*, clinic_id: int, values: dict[str, Any], by: User | None,
                      expected: str) -> RemsFormDetails:
    """Save the clinic's REMS form details if they are still as ``expected`` (their
    fingerprint when the form was loaded); SettingsConflict otherwise."""
    cleaned = _check_rems_values(values)
    with transaction.atomic():
        stored = RemsFormDetails.objects.select_for_update().filter(clinic_id=clinic_id).first()
        current = stored or RemsFormDetails(clinic_id=clinic_id)
        if rems_fingerprint(current) != expected:
            raise SettingsConflict()
        changes = {name: [getattr(current, name), value] for name, value in cleaned.items()
                   if getattr(current, name) != value}
        if stored is not None and not changes:
            return stored
        for name, value in cleaned.items():
            setattr(current, name, value)
        current.save()
        trail.record("update" if stored else "create", object_type="rems_form_details",
                     object_id=current.pk, clinic_id=clinic_id, detail={"changes": changes})
        return current


@action
def register_monitor(*, clinic_id: int, device_id: str, room: str, chair: str = "", label: str = "",
                     active: bool = True, by: User | None) -> tuple[MonitorDevice, bool]:
    """A bedside monitor placed at a room and chair; registering the same id again moves (or,
    not active, retires) it, and the trail says from where to where (its readings then belong
    to another chair's patient). Returns the monitor and whether it is new."""
    device_id, room, chair, label = device_id.strip(), room.strip(), chair.strip(), label.strip()
    for name, value, limit in (("device_id", device_id, 100), ("room", room, 60), ("chair", chair, 60),
                               ("label", label, 80)):
        if len(value) > limit:
            raise ValidationError({name: f"is longer than {limit} characters"})
    if not device_id or not room:
        raise ValidationError({"device_id" if not device_id else "room": "is needed"})
    with transaction.atomic():
        device, created = MonitorDevice.objects.select_for_update().get_or_create(
            clinic_id=clinic_id, device_id=device_id, defaults={"created_by": by, "room": room})
        before = {"room": device.room, "chair": device.chair, "active": device.active, "label": device.label}
        after = {"room": room, "chair": chair, "active": active, "label": label}
        if not created and before == after:
            return device, False
        device.label, device.room, device.chair, device.active = label, room, chair, active
        device.save()
        trail.record("create" if created else "update", object_type="monitor_device", object_id=device.pk,
                     clinic_id=clinic_id, detail=after if created else {"from": before, "to": after})
    return device, created
