"""The clinic's safety listing: adverse events of a period by protocol and route, with the
rate per 100 sessions dosed in the same period (a count of sessions, not of patients).
Counts only: no names. Events recorded outside a session are listed on their own row."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q

from kapclinic.accounts.scoping import for_clinic
from kapclinic.platform import labels
from kapclinic.treatment.ae_models import AdverseEvent
from kapclinic.treatment.models import Administration

MAX_DAYS = 3 * 366  # engineering bound on one listing's period
NO_SESSION = ("", "")


@dataclass(frozen=True)
class Row:
    protocol_label: str
    route_label: str
    sessions: int
    events: int
    serious: int
    by_term: list[tuple[str, int]]

    @staticmethod
    def _rate(count: int, sessions: int) -> Decimal | None:
        if not sessions:
            return None
        return (Decimal(100 * count) / sessions).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def rate(self) -> Decimal | None:
        return self._rate(self.events, self.sessions)

    @property
    def serious_rate(self) -> Decimal | None:
        return self._rate(self.serious, self.sessions)


def period_bounds(start: date, end: date, zone) -> tuple[datetime, datetime]:
    """The period's first and last moments in the clinic's zone (``end`` included)."""
    if end < start:
        raise ValueError("the period ends before it starts")
    if (end - start).days > MAX_DAYS:
        raise ValueError(f"a listing covers at most {MAX_DAYS} days")
    return (datetime.combine(start, time.min, tzinfo=zone),
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone))


def listing(clinic_id: int, start: date, end: date, zone) -> list[Row]:
    """One row per protocol and route that dosed a session or had an event in the period."""
    since, until = period_bounds(start, end, zone)
    dosed: Counter = Counter()
    for row in (for_clinic(Administration, clinic_id)
                .filter(started_at__gte=since, started_at__lt=until, entered_in_error_at__isnull=True)
                .values("session__protocol", "session__route")
                .annotate(n=Count("session", distinct=True))):
        dosed[(row["session__protocol"], row["session__route"])] += row["n"]
    events: Counter = Counter()
    serious: Counter = Counter()
    terms: dict[tuple[str, str], Counter] = {}
    for event in (for_clinic(AdverseEvent, clinic_id)
                  .filter(Q(onset_at__gte=since, onset_at__lt=until)
                          | Q(onset_at__isnull=True, recorded_at__gte=since, recorded_at__lt=until),
                          entered_in_error_at__isnull=True)
                  .select_related("session").only("term", "serious_criteria", "session__protocol",
                                                  "session__route")):
        key = (event.session.protocol, event.session.route) if event.session else NO_SESSION
        events[key] += 1
        serious[key] += bool(event.serious_criteria)
        terms.setdefault(key, Counter())[event.term] += 1
    labels_of = {key: _protocol_label(key[0]) for key in set(dosed) | set(events) if key != NO_SESSION}
    rows = []
    for key in sorted(set(dosed) | set(events), key=lambda k: (k == NO_SESSION, labels_of.get(k, ""))):
        protocol_label = labels_of.get(key, "Not in a session")
        route_label = labels.ROUTE_LABELS.get(key[1], key[1]) if key != NO_SESSION else ""
        rows.append(Row(protocol_label, route_label, dosed[key], events[key], serious[key],
                        terms.get(key, Counter()).most_common()))
    return rows


def _protocol_label(protocol: str) -> str:
    from kapclinic.clinical import protocols

    try:
        return protocols.resolve(protocol).label
    except protocols.UnknownProtocolError:
        return protocol.replace("_", " ")
