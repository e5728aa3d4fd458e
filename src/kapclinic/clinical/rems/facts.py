"""The plain facts a Patient Monitoring Form is built from (what the app reads from the
session, the patient, the discharging clinician and the clinic's form details)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime


@dataclass(frozen=True)
class Reading:
    """A vital-signs reading of the session (any of its values may be absent)."""

    observed_at: datetime
    after_dose: bool
    sbp_mmhg: float | None = None
    dbp_mmhg: float | None = None
    moaas: int | None = None


@dataclass(frozen=True)
class RemsFacts:
    """What the session (and the clinic's form details) say; None or "" when not recorded."""

    patient_first_name: str = ""
    patient_middle_initial: str = ""
    patient_last_name: str = ""
    patient_date_of_birth: date | None = None
    patient_sex: str = ""
    takes_benzodiazepines: bool | None = None
    takes_non_benzodiazepine_sedative_hypnotics: bool | None = None
    takes_psychostimulants: bool | None = None
    takes_maois: bool | None = None
    clinician_first_name: str = ""
    clinician_last_name: str = ""
    clinician_phone: str = ""
    clinician_email: str = ""
    setting_name: str = ""
    setting_address: str = ""
    setting_city: str = ""
    setting_state: str = ""
    setting_zip: str = ""
    treatment_date: date | None = None
    dose_mg: float | None = None
    lot: str = ""
    first_device_at: datetime | None = None
    monitoring_ended_at: datetime | None = None
    effects_resolved_at: datetime | None = None
    vitals_acceptable_before_dosing: bool | None = None
    vitals_acceptable_before_end: bool | None = None
    dissociation: bool | None = None
    readings: tuple[Reading, ...] = ()


# Facts content.py works out from the ones above (a field may name these too).
DERIVED_FACTS = ("duration_minutes", "ready_minutes", "bp_before_dosing", "bp_after_dose",
                 "bp_before_end", "sedation")


def known_facts() -> frozenset[str]:
    return frozenset({f.name for f in fields(RemsFacts)} - {"readings"}) | frozenset(DERIVED_FACTS)
