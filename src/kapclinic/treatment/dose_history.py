"""The patient's earlier doses beside today's, with what was observed after each: the peak
CADSS-6 of the session (scored by the measures app, read through
``extensions.session_peaks``) and the lowest MOAA/S of its readings. A per-patient
dose-response view for the session page: decision support, not an order.

Cost: two queries of this app whatever the number of sessions (the doses, the lowest MOAA/S
per session) plus what the registered score providers run (one each), for at most ``SHOWN``
earlier doses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Min

from kapclinic.clinical import instruments
from kapclinic.platform import extensions as ext
from kapclinic.platform.labels import DRUG_LABELS, ROUTE_LABELS
from kapclinic.treatment.models import Administration, Session, State, VitalReading

SHOWN = 12            # the newest earlier doses listed; older ones stay in the chart's timeline
DISSOCIATION = "cadss6"


@dataclass(frozen=True)
class DoseRow:
    session_id: int
    when: datetime | None
    drug: str
    route: str
    dose_mg: float | None
    dose_mg_per_kg: float | None
    peak_cadss6: float | None
    lowest_moaas: int | None
    today: bool = False
    planned: bool = False            # today's dose not yet given: the protocol's standard dose
    ended_early: bool = False

    @property
    def dose_words(self) -> str:
        """'35 mg · 0.5 mg/kg' (mg/kg as given, to the thousandth)."""
        if self.dose_mg is None:
            return ""
        per_kg = f" · {round(self.dose_mg_per_kg, 3):g} mg/kg" if self.dose_mg_per_kg else ""
        return f"{round(self.dose_mg, 1):g} mg{per_kg}"

    @property
    def drug_route(self) -> str:
        return f"{DRUG_LABELS.get(self.drug, self.drug)} · {ROUTE_LABELS.get(self.route, self.route)}"


@dataclass(frozen=True)
class DoseHistory:
    rows: list[DoseRow]              # today first, then the earlier doses, newest first
    more: bool                       # older doses than those shown exist
    cadss_range: str                 # "0–24", from the instrument's definition

    @property
    def earlier(self) -> list[DoseRow]:
        return [r for r in self.rows if not r.today]


def _range_words(instrument_id: str) -> str:
    try:
        low, high = instruments.get_instrument(instrument_id).total_range
    except instruments.UnknownInstrumentError:
        return ""
    return f"{low:g}–{high:g}"


def dose_history(session: Session, today: Administration | None, planned_mg: float | None,
                 planned_mg_per_kg: float | None, readings: list[VitalReading],
                 now: datetime) -> DoseHistory:
    """Today's dose (given, or the planned one) and the patient's earlier doses before it."""
    before = today.started_at if today is not None else now
    earlier = list(Administration.objects
                   .filter(session__patient_id=session.patient_id, entered_in_error_at__isnull=True,
                           started_at__lt=before)
                   .exclude(session_id=session.pk)
                   .select_related("session").order_by("-started_at", "-id")[:SHOWN + 1])
    more = len(earlier) > SHOWN
    earlier = earlier[:SHOWN]
    ids = [a.session_id for a in earlier]
    lowest = dict(VitalReading.objects.filter(session_id__in=ids, entered_in_error_at__isnull=True,
                                              moaas__isnull=False)
                  .values_list("session_id").annotate(Min("moaas"))) if ids else {}
    peaks = ext.session_peaks([session.pk, *ids])
    own = [r.moaas for r in readings if r.moaas is not None and r.entered_in_error_at is None]
    rows = [DoseRow(session.pk, today.started_at if today else None, session.drug, session.route,
                    today.dose_mg if today else planned_mg,
                    today.dose_mg_per_kg if today else planned_mg_per_kg,
                    peaks.get(session.pk, {}).get(DISSOCIATION), min(own) if own else None,
                    today=True, planned=today is None)]
    rows += [DoseRow(a.session_id, a.started_at, a.drug, a.route, a.dose_mg, a.dose_mg_per_kg,
                     peaks.get(a.session_id, {}).get(DISSOCIATION), lowest.get(a.session_id),
                     ended_early=a.session.state == State.STOPPED)
             for a in earlier]
    return DoseHistory(rows, more, _range_words(DISSOCIATION))
