"""The clinic outcomes dashboard: every number aggregated in SQL from outcome snapshots.

The number of queries does not depend on the number of patients (a test asserts it).
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Avg, Count, Q
from django.utils import timezone

from kapclinic.accounts.scoping import for_clinic
from kapclinic.clinical import outcomes
from kapclinic.measures.models import MeasureRequest, OutcomeSnapshot, Schedule
from kapclinic.patients.models import Status

LIST_LIMIT = 50


# A patient can be assessed for response and remission once the core has a baseline and a
# later score to compare (it reports "not determined" before): the snapshot's latest total.
ASSESSED = Q(latest_total__isnull=False)


def rates_by_condition(clinic_id: int, instrument: str) -> list[dict]:
    """Per condition: patients measured, and response and remission among those assessed."""
    rows = (for_clinic(OutcomeSnapshot, clinic_id).filter(instrument=instrument)
            .values("condition_group")
            .annotate(n=Count("id"), assessed=Count("id", filter=ASSESSED),
                      responders=Count("id", filter=ASSESSED & Q(ever_responded=True)),
                      remitters=Count("id", filter=ASSESSED & Q(remission_now=True)),
                      days=Avg("time_to_response_days"))
            .order_by("condition_group"))
    return [{**row, "response": outcomes.response_rate(row["responders"], row["assessed"]),
             "remission": outcomes.remission_rate(row["remitters"], row["assessed"])}
            for row in rows]


def relapse_curve(clinic_id: int, instrument: str) -> outcomes.KaplanMeier | None:
    """Time to relapse of everyone the core put at risk (durability is set exactly then:
    a relapse rule exists and the clinic's anchor, response or remission, was reached)."""
    rows = list(for_clinic(OutcomeSnapshot, clinic_id).filter(
        instrument=instrument, durability_days__isnull=False)
        .values("durability_days")
        .annotate(events=Count("id", filter=Q(relapsed=True)),
                  censored=Count("id", filter=Q(relapsed=False))))
    if not rows:
        return None
    return outcomes.kaplan_meier_from_counts([r["durability_days"] for r in rows],
                                             [r["events"] for r in rows],
                                             [r["censored"] for r in rows])


def relief_fading(clinic_id: int, instrument: str):
    return (for_clinic(OutcomeSnapshot, clinic_id).filter(instrument=instrument,
                                                          relief_fading=True)
            .select_related("patient").order_by("-latest_at")[:LIST_LIMIT])


def overdue(clinic_id: int):
    """Schedules more than a day past due, and links that expired unanswered (of patients
    still in care: a discharged patient is not chased)."""
    now = timezone.now()
    late = (for_clinic(Schedule, clinic_id).filter(active=True,
                                                   next_due_at__lt=now - timedelta(days=1))
            .exclude(patient__status=Status.DISCHARGED)
            .select_related("patient").order_by("next_due_at")[:LIST_LIMIT])
    expired = (for_clinic(MeasureRequest, clinic_id).filter(link__used_at__isnull=True,
                                                            link__expires_at__lte=now)
               .exclude(patient__status=Status.DISCHARGED)
               .select_related("patient").order_by("-due_at")[:LIST_LIMIT])
    return list(late), list(expired)
