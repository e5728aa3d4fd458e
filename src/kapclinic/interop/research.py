"""The de-identified research data set: one row per patient-measure, by the HIPAA Safe Harbor
method (45 CFR 164.514(b)(2)), with a disclosure check on what is left (k-anonymity).

What leaves, and how (the data dictionary written with every export says the same per column):
- no name, MRN, contact, address, note or any other free text: only coded values, numbers and
  pseudonyms;
- the patient is a pseudonym keyed by the clinic's research key (a re-identification code as
  164.514(c) allows: not derived from anything about the person, the key never leaves);
- dates are shifted per patient by a secret offset (the same for all of a patient's rows, so
  intervals stay true) and kept to the year, as Safe Harbor allows; a clinic with an expert
  determination on file may keep the shifted days. Ages over 89 are one group, "90+";
- the quasi-identifiers of each patient (sex at birth, condition group, age band and shifted date
  at their first measure) are checked: where fewer patients than the clinic's threshold (k, 5 by
  default) share a combination, the whole export is generalised a step (wider age bands, dates to
  the month, to the year, then left out), and the patients of groups still smaller than k at the
  last step are suppressed. The export is never refused; its report says
  what was generalised and suppressed, and the smallest group left.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings

from kapclinic.accounts import scoping
from kapclinic.audit import trail
from kapclinic.clinical.codes import diagnoses
from kapclinic.clinical.instruments.response import change_outcome, remission
from kapclinic.clinical.screening.engine import age_on
from kapclinic.measures.models import Response
from kapclinic.patients.models import Condition, Patient
from kapclinic.treatment.models import Administration

from .models import InteropSettings

# the steps of generalisation: (age band in years, date kept to)
LEVELS = {  # by the clinic's choice of dates
    "year": ((5, "year"), (10, "year"), (20, "year"), (20, "none")),
    "shifted": ((5, "day"), (10, "month"), (20, "year"), (20, "none")),
}
# [policy: labelled default] A step of generalisation is enough when the patients it would still
# have to leave out are at most this share of all (suppressing a few outliers beats coarsening
# everyone's ages and dates). The reference is silent: 5 %.
SUPPRESSION_LIMIT = 0.05
OLDEST = 90  # Safe Harbor: every age over 89 is one group (clinical.md 7, item 3)
MIN_SHIFT_DAYS = 30  # a patient's dates move at least this far (the setting's lower bound too)

COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("clinic", "string", "The clinic, as a pseudonym: the same in every export of that clinic.",
     "A keyed hash of the clinic; its name is not exported."),
    ("patient", "string", "The patient, as a pseudonym: the same in every export of this clinic.",
     "A keyed hash (HMAC-SHA-256) of the record with the clinic's research key, which never leaves "
     "the clinic (a re-identification code, 45 CFR 164.514(c)). No name, MRN or contact detail."),
    ("sex_at_birth", "string", "female, male, intersex or unknown.",
     "Quasi-identifier: checked for k-anonymity."),
    ("age_band", "string", "Age at the patient's first measure in the data set, in whole years, as a "
                           "band (35-39); 90+ for every age over 89.",
     "Quasi-identifier: the band widens from 5 to 10 to 20 years when a group is too small."),
    ("condition_group", "string", "The group of the patient's first active diagnosis (ICD-10-CM "
                                  "chapter groups: depression, anxiety, ptsd, ...); empty if none.",
     "Quasi-identifier. The code itself is not exported."),
    ("measured_on", "string", "The year of the measure (YYYY; the clinic may keep shifted days, "
                              "YYYY-MM-DD, or months, YYYY-MM); empty when dates had to be left out.",
     "Shifted by the patient's secret offset (the same for all their rows: intervals stay true). "
     "Quasi-identifier (the date of the patient's first measure)."),
    ("instrument", "string", "The questionnaire (phq9, gad7, madrs, ...).", "Coded."),
    ("total", "double", "The questionnaire's total score.", "A measured value."),
    ("subscales", "string", "The subscale scores as JSON ({\"name\": score}); {} when none.",
     "Measured values."),
    ("severity", "string", "The severity band of the total, as the instrument defines it.", "Coded."),
    ("response", "boolean", "Whether the total meets the instrument's response rule against the "
                            "patient's first total of it (their baseline); empty when it has none.",
     "Derived."),
    ("remission", "boolean", "Whether the total meets the instrument's remission rule; empty when it "
                             "has none.", "Derived."),
    ("protocol", "string", "The dosing protocol of the nearest dose before the measure; empty if none.",
     "Coded."),
    ("route", "string", "That dose's route (iv-infusion, im, sublingual, intranasal).", "Coded."),
    ("dose_mg_per_kg", "double", "That dose, in mg per kg of body weight; empty when not weight-based.",
     "A measured value."),
    ("session_number", "int64", "Which of the patient's dosed sessions that dose was (1 = first).",
     "A count."),
    ("hours_since_dose", "double", "Hours from the start of that dose to the measure; empty when the "
                                   "measure came before any dose.",
     "An interval: true, whatever the date shift."),
)


@dataclass
class Report:
    rows: int = 0
    patients: int = 0
    k: int = 5
    age_band_years: int = 5
    dates_to: str = "day"
    suppressed_rows: int = 0
    suppressed_patients: int = 0
    smallest_group: int = 0
    generalised: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# --- keys and pseudonyms -----------------------------------------------------------------------


class ResearchKeyDamaged(RuntimeError):
    pass


def research_key() -> bytes:
    """The installation's research key: made once, kept in the data folder (never exported).
    Written whole under another name and linked into place, so no reader ever sees it half
    made; a key that is not 32 bytes is refused (an empty one would make pseudonyms guessable)."""
    path = Path(settings.DATA_DIR) / "research.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"research.key.{secrets.token_hex(8)}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(partial, path)  # fails if another process made it first: theirs is kept
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    text = path.read_text().strip()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise ResearchKeyDamaged(f"{path} is not a research key (64 hexadecimal characters): restore it "
                                 "from its backup; the pseudonyms of every export depend on it")
    return bytes.fromhex(text)


def _keyed(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def pseudonym(key: bytes, kind: str, pk: int) -> str:
    return f"{kind[0].upper()}-{_keyed(key, f'{kind}:{pk}')[:16]}"


def date_offset(key: bytes, patient_pk: int, days: int) -> timedelta:
    """The patient's secret shift: at least MIN_SHIFT_DAYS (or ``days`` if smaller) and at most
    ``days``, either way."""
    drawn = int(_keyed(key, f"shift:{patient_pk}")[:12], 16)
    least = min(MIN_SHIFT_DAYS, days)
    size = least + drawn % (days - least + 1)
    return timedelta(days=size if drawn >> 40 & 1 else -size)


# --- the rows ----------------------------------------------------------------------------------


def age_band(age: int, width: int) -> str:
    if age >= OLDEST:
        return f"{OLDEST}+"
    low = age // width * width
    return f"{low}-{min(low + width - 1, OLDEST - 1)}"


def _date_text(day: date, to: str) -> str:
    if to == "none":
        return ""
    return day.isoformat() if to == "day" else day.strftime("%Y-%m") if to == "month" else str(day.year)


@dataclass
class _Row:
    patient_pk: int
    values: dict[str, Any]
    age: int
    shifted: date


def _rows(clinic, key: bytes, shift_days: int) -> list[_Row]:
    clinic_alias = pseudonym(key, "clinic", clinic.pk)
    patients = {p.pk: p for p in scoping.for_clinic(Patient, clinic.pk).only("pk", "date_of_birth",
                                                                             "sex_at_birth")}
    groups: dict[int, str] = {}
    for patient_id, code in (scoping.for_clinic(Condition, clinic.pk).filter(entered_in_error_at__isnull=True)
                             .order_by("recorded_at", "pk").values_list("patient_id", "code")):
        if patient_id not in groups:
            found = diagnoses().get(code)
            groups[patient_id] = found.group if found else ""
    doses: dict[int, list[Administration]] = defaultdict(list)
    for a in (scoping.for_clinic(Administration, clinic.pk).filter(entered_in_error_at__isnull=True)
              .select_related("session").order_by("started_at", "pk")):
        doses[a.session.patient_id].append(a)
    baselines: dict[tuple[int, str], float] = {}
    out = []
    responses = (scoping.for_clinic(Response, clinic.pk).filter(entered_in_error_at__isnull=True,
                                                               total__isnull=False)
                 .order_by("taken_at", "pk").only("pk", "patient_id", "instrument", "total", "severity",
                                                  "result", "taken_at"))
    for r in responses.iterator(chunk_size=5_000):
        patient = patients.get(r.patient_id)
        if patient is None:
            continue
        baseline = baselines.setdefault((r.patient_id, r.instrument), r.total)
        number, dose = _nearest_dose(doses.get(r.patient_id, []), r.taken_at)
        shifted = r.taken_at.date() + date_offset(key, r.patient_id, shift_days)
        out.append(_Row(r.patient_id, {
            "clinic": clinic_alias, "patient": pseudonym(key, "patient", r.patient_id),
            "sex_at_birth": patient.sex_at_birth, "condition_group": groups.get(r.patient_id, ""),
            "instrument": r.instrument, "total": float(r.total),
            "subscales": json.dumps(_subscales(r.result), sort_keys=True), "severity": r.severity,
            "response": _met(change_outcome, r.instrument, baseline, r.total),
            "remission": _met(remission, r.instrument, r.total),
            "protocol": dose.session.protocol if dose else "", "route": dose.route if dose else "",
            "dose_mg_per_kg": dose.dose_mg_per_kg if dose else None, "session_number": number,
            "hours_since_dose": _hours(dose.started_at, r.taken_at) if dose else None,
        }, age_on(patient.date_of_birth, r.taken_at.date()), shifted))
    return out


def _subscales(result: Any) -> dict[str, float]:
    found = (result or {}).get("subscales") if isinstance(result, dict) else None
    if isinstance(found, dict):
        return {str(k): v for k, v in found.items() if isinstance(v, int | float)}
    return {}


def _met(rule, *args: Any) -> bool | None:
    try:
        return rule(*args).met
    except ValueError:  # the instrument has no such rule
        return None


def _nearest_dose(doses: list[Administration], at) -> tuple[int | None, Administration | None]:
    """The latest dose started before ``at``, and which of the patient's dosed sessions it was in."""
    found: tuple[int | None, Administration | None] = (None, None)
    sessions: list[int] = []
    for dose in doses:
        if dose.started_at > at:
            break
        if dose.session_id not in sessions:
            sessions.append(dose.session_id)
        found = (len(sessions), dose)
    return found


def _hours(start, end) -> float:
    return round((end - start).total_seconds() / 3600, 2)


# --- the disclosure check ----------------------------------------------------------------------


def _firsts(rows: list[_Row]) -> dict[int, _Row]:
    """Each patient's first row: their age and date in the disclosure check."""
    first: dict[int, _Row] = {}
    for row in rows:
        if row.patient_pk not in first or row.shifted < first[row.patient_pk].shifted:
            first[row.patient_pk] = row
    return first


def _quasi(first: _Row, width: int, to: str) -> tuple:
    """A patient's quasi-identifiers at one step of generalisation."""
    return (first.values["sex_at_birth"], age_band(first.age, width), first.values["condition_group"],
            _date_text(first.shifted, to))


def deidentify(rows: list[_Row], k: int, dates: str = "year") -> tuple[list[dict[str, Any]], Report]:
    """The rows to export and what was done: each patient is one member of the group of their
    quasi-identifiers (sex, age band and date at their first measure, condition group); the first
    step at which the patients of groups smaller than ``k`` are at most SUPPRESSION_LIMIT of all
    is used (else the last), and those patients are left out."""
    firsts = _firsts(rows)
    report = Report(k=k, patients=len(firsts))
    steps = LEVELS[dates]
    for width, to in steps:
        group_of = {pk: _quasi(first, width, to) for pk, first in firsts.items()}
        sizes: dict[tuple, int] = defaultdict(int)
        for group in group_of.values():
            sizes[group] += 1
        outliers = sum(size for size in sizes.values() if size < k)
        if outliers <= SUPPRESSION_LIMIT * len(firsts):
            break
    report.age_band_years, report.dates_to = width, to
    if (width, to) != steps[0]:
        report.generalised = [f"age bands widened to {width} years"]
        if to != steps[0][1]:
            report.generalised.append("dates left out" if to == "none" else f"dates kept to the {to}")
    left_out = {pk for pk, group in group_of.items() if sizes[group] < k}
    kept = [row for row in rows if row.patient_pk not in left_out]
    report.suppressed_rows = len(rows) - len(kept)
    report.suppressed_patients = len(left_out)
    kept_sizes = [size for group, size in sizes.items() if size >= k]
    report.smallest_group = min(kept_sizes) if kept_sizes else 0
    report.rows = len(kept)
    return [{**row.values, "age_band": age_band(firsts[row.patient_pk].age, width),
             "measured_on": _date_text(row.shifted, to)} for row in kept], report


# --- writing -----------------------------------------------------------------------------------


def export(clinic, out: Path) -> Report:
    """Write the data set (Parquet for .parquet, CSV for .csv), its data dictionary
    (<name>.dictionary.csv) and its report (<name>.report.json) next to it; audited with what
    the report says (no patient: nothing in it identifies one)."""
    chosen = scoping.clinic_settings(InteropSettings, clinic.pk)
    rows, report = deidentify(_rows(clinic, research_key(), chosen.date_shift_days), chosen.k_anonymity,
                              chosen.research_dates)
    names = [name for name, *_ in COLUMNS]
    if out.suffix == ".parquet":
        _parquet(rows, names, out)
    else:
        _csv(rows, names, out)
    with open(out.with_name(out.stem + ".dictionary.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["column", "type", "meaning", "de-identification"])
        writer.writerows(COLUMNS)
    out.with_name(out.stem + ".report.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    trail.record("export", object_type="research_export", object_id=clinic.slug, clinic_id=clinic.pk,
                 detail={"format": out.suffix[1:], **{k: report.as_dict()[k] for k in (
                     "rows", "patients", "k", "suppressed_rows", "smallest_group")}})
    return report


def _csv(rows: Iterable[dict[str, Any]], names: list[str], out: Path) -> None:
    partial = out.with_name(out.name + ".partial")
    with open(partial, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=names)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    os.replace(partial, out)


def _parquet(rows: list[dict[str, Any]], names: list[str], out: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"string": pa.string(), "double": pa.float64(), "int64": pa.int64(), "boolean": pa.bool_()}
    schema = pa.schema([(name, types[kind]) for name, kind, *_ in COLUMNS])
    table = pa.Table.from_pylist([{n: row.get(n) for n in names} for row in rows], schema=schema)
    partial = out.with_name(out.name + ".partial")
    pq.write_table(table, partial)
    os.replace(partial, out)

