"""The protocol a session runs under, and the clinic's monitoring settings, from the core."""

from __future__ import annotations

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
    return core.resolve(session.protocol).configured(chosen.get("values") or {},
                                                     preset=chosen.get("preset") or None)


def monitoring_settings(clinic_id: int) -> MonitoringSettings:
    stored = TreatmentSettings.for_clinic(clinic_id)
    return load_rules().resolve(stored.monitoring_values or {},
                                preset=stored.monitoring_preset or None)
