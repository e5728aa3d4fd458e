"""The protocol a session runs under, and the clinic's monitoring settings, from the core."""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from kapclinic.clinical import protocols as core
from kapclinic.clinical.monitoring import MonitoringSettings, load_rules
from kapclinic.treatment.models import Session, TreatmentSettings


def clinic_protocol(protocol_id: str, clinic_id: int) -> core.Protocol:
    """The protocol with the clinic's settings and preset applied (UnknownProtocolError,
    ProtocolSettingError name the field)."""
    stored = TreatmentSettings.for_clinic(clinic_id)
    protocol = core.resolve(protocol_id)
    return protocol.configured((stored.protocol_settings or {}).get(protocol_id) or {},
                               preset=(stored.protocol_presets or {}).get(protocol_id) or None)


def fingerprint(protocol: core.Protocol) -> str:
    """SHA-256 of the protocol file's content and the settings chosen: what the session ran."""
    body = json.dumps({"file": protocol.model.model_dump(mode="json"), "chosen": dict(protocol.chosen),
                       "preset": protocol.preset}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def session_protocol(session: Session) -> core.Protocol:
    """The protocol as it was when the session was scheduled (its settings kept on it)."""
    chosen: dict[str, Any] = session.protocol_settings or {}
    return _configured(session.protocol, _key(chosen.get("values") or {}), chosen.get("preset") or None)


def monitoring_settings(clinic_id: int) -> MonitoringSettings:
    return monitoring_settings_of(TreatmentSettings.for_clinic(clinic_id))


def monitoring_settings_of(stored: TreatmentSettings) -> MonitoringSettings:
    return _monitoring(_key(stored.monitoring_values or {}), stored.monitoring_preset or None)


# Resolving a protocol or the monitoring rules with settings is pure (frozen results of the
# definition files read at start-up) and costs a bedside monitor's message more than its SQL:
# resolved once per distinct settings.
def _key(values: dict) -> str:
    return json.dumps(values, sort_keys=True, default=str)


@functools.lru_cache(maxsize=256)
def _configured(protocol_id: str, values: str, preset: str | None) -> core.Protocol:
    return core.resolve(protocol_id).configured(json.loads(values), preset=preset)


@functools.lru_cache(maxsize=256)
def _monitoring(values: str, preset: str | None) -> MonitoringSettings:
    return load_rules().resolve(json.loads(values), preset=preset)
