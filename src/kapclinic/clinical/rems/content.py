"""The Patient Monitoring Form's content, built from plain facts of one esketamine session.

``build_form(form, facts)`` fills each field of the edition from the fact it names. What the
session does not record is never guessed: the field is left blank on the printed form and
listed in ``missing`` with why, so the clinician fills it in by hand before submitting.
Values the form expects but the session contradicts (monitoring under 2 hours) are listed in
``flags``. Derived fields:

- duration: minutes from the first device to the end of monitoring (sessions.md 1.1);
- ready to leave: minutes from the first device to when sedation, dissociation and respiratory
  depression had all been recorded resolved (the latest of the three);
- blood pressure: the latest pre-dose reading; the after-dose reading nearest the form's mark
  (~40 min, shown with the minute it was taken); the latest reading before the end;
- sedation: any MOAA/S below 5 after the dose (5 = responds readily to name, clinical.md 1.1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from kapclinic.clinical.rems.definitions import RemsForm
from kapclinic.clinical.rems.facts import DERIVED_FACTS, Reading, RemsFacts
from kapclinic.clinical.rems.file_model import FieldSpec

MOAAS_ALERT = 5  # MOAA/S 5: responds readily to name in a normal tone (clinical.md 1.1)

__all__ = ["FormContent", "Reading", "RemsFacts", "build_form"]


# Why a fact may be absent, in words the clinician acts on (by fact; the default below).
WHY_MISSING = {
    "patient_middle_initial": "no middle name is recorded",
    "takes_benzodiazepines": "the session does not record concomitant medicines: ask and tick",
    "takes_non_benzodiazepine_sedative_hypnotics": "the session does not record concomitant "
                                                   "medicines: ask and tick",
    "takes_psychostimulants": "the session does not record concomitant medicines: ask and tick",
    "takes_maois": "the session does not record concomitant medicines: ask and tick",
    "clinician_first_name": "nobody has recorded the discharge yet",
    "clinician_last_name": "the discharging clinician's account has no last name",
    "clinician_phone": "staff phone numbers are not kept: write it in",
    "clinician_email": "the discharging clinician's account has no email",
    "setting_address": "the clinic's address for this form is not set",
    "setting_city": "the clinic's address for this form is not set",
    "setting_state": "the clinic's address for this form is not set",
    "setting_zip": "the clinic's address for this form is not set",
    "treatment_date": "no dose was recorded",
    "dose_mg": "no dose was recorded",
    "lot": "no lot number was recorded with the dose",
    "duration_minutes": "the session has not ended",
    "ready_minutes": "sedation, dissociation and respiratory depression were not all recorded "
                     "as resolved",
    "vitals_acceptable_before_dosing": "no reading before dosing was checked",
    "vitals_acceptable_before_end": "no reading after the dose",
    "bp_before_dosing": "no blood pressure before dosing",
    "bp_after_dose": "no blood pressure after the dose",
    "bp_before_end": "no blood pressure after the dose",
    "sedation": "no MOAA/S after the dose",
    "dissociation": "no CADSS-6 was scored in the session and no dissociation was recorded: "
                    "tick it",
}


@dataclass(frozen=True)
class FilledField:
    label: str
    shown: str      # what is printed ("" when blank)
    missing: str    # why it is blank ("" when filled or optional)
    kind: str
    note: str = ""  # e.g. the minute of the ~40 min reading


@dataclass(frozen=True)
class FilledSection:
    label: str
    fields: tuple[FilledField, ...]


@dataclass(frozen=True)
class FormContent:
    form_id: str
    version: str
    title: str
    edition: str
    sections: tuple[FilledSection, ...]
    missing: tuple[str, ...]   # "Section: field (why)"
    flags: tuple[str, ...]     # values the form expects otherwise
    due_on: date | None        # the treatment date + the form's days

    @property
    def complete(self) -> bool:
        return not self.missing

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (kept with the submission: what the form said when it was filed)."""
        out = asdict(self)
        out["due_on"] = None if self.due_on is None else self.due_on.isoformat()
        return out


@dataclass
class _Derived:
    values: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def _minutes(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None or end < start:
        return None
    return int((end - start).total_seconds() // 60)


def _bp(reading: Reading | None) -> tuple[float, float] | None:
    return None if reading is None else (reading.sbp_mmhg, reading.dbp_mmhg)  # type: ignore[return-value]


def _derive(form: RemsForm, facts: RemsFacts) -> _Derived:
    out = _Derived(dict.fromkeys(DERIVED_FACTS))
    start, end = facts.first_device_at, facts.monitoring_ended_at
    out.values["duration_minutes"] = _minutes(start, end)
    out.values["ready_minutes"] = _minutes(start, facts.effects_resolved_at)
    with_bp = sorted((r for r in facts.readings if r.sbp_mmhg is not None and r.dbp_mmhg is not None),
                     key=lambda r: r.observed_at)
    before = [r for r in with_bp if not r.after_dose and (start is None or r.observed_at <= start)]
    after = [r for r in with_bp if r.after_dose and (start is None or r.observed_at >= start)
             and (end is None or r.observed_at <= end)]
    out.values["bp_before_dosing"] = _bp(before[-1] if before else None)
    if after and start is not None:
        mark = start + timedelta(minutes=form.bp_after_dose_minutes)
        nearest = min(after, key=lambda r: (abs((r.observed_at - mark).total_seconds()), r.observed_at))
        out.values["bp_after_dose"] = _bp(nearest)
        out.notes["bp_after_dose"] = f"taken {_minutes(start, nearest.observed_at)} min after the " \
                                     "first device"
        last = after[-1]
        out.values["bp_before_end"] = _bp(last)
        out.notes["bp_before_end"] = f"taken {_minutes(start, last.observed_at)} min after the first device"
    moaas = [r.moaas for r in facts.readings if r.after_dose and r.moaas is not None]
    out.values["sedation"] = (min(moaas) < MOAAS_ALERT) if moaas else None
    if moaas and min(moaas) < MOAAS_ALERT:
        out.notes["sedation"] = f"lowest MOAA/S {min(moaas)}"
    return out


def _shown(spec: FieldSpec, value: Any) -> str:
    if value is None or value == "":
        return ""
    if spec.kind == "yes_no":
        return "Yes" if value else "No"
    if spec.kind == "date":
        return str(value.isoformat())
    if spec.kind == "minutes":
        return f"{value}"
    if spec.kind == "bp":
        sbp, dbp = value
        return f"{sbp:g}/{dbp:g}"
    if spec.kind == "dose":
        if spec.choices_mg and any(abs(value - c) < 1e-9 for c in spec.choices_mg):
            return f"{value:g} mg"
        return f"Other: {value:g} mg"
    return str(value)


def build_form(form: RemsForm, facts: RemsFacts) -> FormContent:
    """The form's content for one session (see the module's docstring)."""
    derived = _derive(form, facts)
    sections, missing, flags = [], [], []
    for section in form.spec.sections:
        filled = []
        for spec in section.fields:
            value = derived.values[spec.fact] if spec.fact in derived.values else getattr(facts, spec.fact)
            shown = _shown(spec, value)
            why = "" if shown or spec.optional else WHY_MISSING.get(spec.fact, "not recorded: write it in")
            if why:
                missing.append(f"{section.label}: {spec.label} ({why})")
            filled.append(FilledField(spec.label, shown, why, spec.kind, derived.notes.get(spec.fact, "")))
        sections.append(FilledSection(section.label, tuple(filled)))
    duration = derived.values["duration_minutes"]
    if duration is not None and duration < form.minimum_duration_minutes:
        flags.append(f"Monitoring lasted {duration} minutes: the form expects at least "
                     f"{form.minimum_duration_minutes:g} from the first device.")
    due = None if facts.treatment_date is None else facts.treatment_date + timedelta(
        days=form.submit_within_days)
    return FormContent(form.spec.id, form.version, form.title, form.spec.edition, tuple(sections),
                       tuple(missing), tuple(flags), due)
