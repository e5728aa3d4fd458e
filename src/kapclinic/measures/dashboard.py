"""The clinic outcomes dashboard: every number aggregated in SQL from outcome snapshots.

The number of queries does not depend on the number of patients (a test asserts it).
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from kapclinic.accounts.scoping import for_clinic
from kapclinic.clinical import outcomes
from kapclinic.measures.models import DoseFollowUp, MeasureRequest, OutcomeSnapshot, Schedule
from kapclinic.patients.models import Status
from kapclinic.platform.labels import ROUTE_LABELS

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
    return [_with_rates(row) for row in rows]


def _with_rates(row: dict) -> dict:
    return {**row, "response": outcomes.response_rate(row["responders"], row["assessed"]),
            "remission": outcomes.remission_rate(row["remitters"], row["assessed"])}


NO_DOSE = "No dose on record"


def rates_by_treatment(clinic_id: int, instrument: str) -> dict[str, list[dict]]:
    """Response and remission by protocol and by route: each patient counted under the protocol
    and route of their latest dose (stored on the snapshot when a dose or an answer is
    recorded), so this is one query whatever the number of patients or doses. ``episodes``:
    how many are measured from their course's episode baseline (outcomes.attribution)."""
    rows = list(for_clinic(OutcomeSnapshot, clinic_id).filter(instrument=instrument)
                .values("protocol_label", "route")
                .annotate(n=Count("id"), assessed=Count("id", filter=ASSESSED),
                          responders=Count("id", filter=ASSESSED & Q(ever_responded=True)),
                          remitters=Count("id", filter=ASSESSED & Q(remission_now=True)),
                          days_total=Sum("time_to_response_days"),
                          days_n=Count("time_to_response_days"),
                          episodes=Count("id", filter=Q(episode_start__isnull=False)))
                .order_by("protocol_label", "route"))
    by: dict[str, dict[str, dict]] = {"protocol": {}, "route": {}}
    for row in rows:
        keys = {"protocol": row["protocol_label"] or NO_DOSE,
                "route": ROUTE_LABELS.get(row["route"], row["route"]) or NO_DOSE}
        for kind, label in keys.items():
            group = by[kind].setdefault(label, {"label": label, "n": 0, "assessed": 0,
                                                "responders": 0, "remitters": 0,
                                                "days_total": 0.0, "days_n": 0, "episodes": 0})
            for name in ("n", "assessed", "responders", "remitters", "days_total", "days_n",
                         "episodes"):
                group[name] += row[name] or 0
    return {kind: [_with_rates({**g, "days": g["days_total"] / g["days_n"] if g["days_n"]
                                else None})
                   for g in sorted(groups.values(), key=lambda g: (g["label"] == NO_DOSE,
                                                                   g["label"]))]
            for kind, groups in by.items()}


def fading_patient_ids(clinic_id: int) -> set[int]:
    """The FadingRelief point: patients whose relief is fading on any instrument (what the
    dashboard lists, one instrument at a time), for the course page to offer a booster."""
    return set(for_clinic(OutcomeSnapshot, clinic_id).filter(relief_fading=True)
               .values_list("patient_id", flat=True))


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


def waiting_followups(clinic_id: int):
    """Follow-ups after a dose more than a day past due and not sent (the patient has no email
    or phone to send them to), of patients still in care."""
    now = timezone.now()
    return list(for_clinic(DoseFollowUp, clinic_id)
                .filter(sent_at__isnull=True, skipped_at__isnull=True,
                        due_at__lt=now - timedelta(days=1))
                .exclude(patient__status=Status.DISCHARGED)
                .select_related("patient").order_by("due_at")[:LIST_LIMIT])
