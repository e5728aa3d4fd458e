"""Time since the nearest dose, as a trajectory's table shows it beside each questionnaire:
"40 min after the dose of 12 Nov", "3 days before the first dose of 2 Nov", and the protocol
("(IV racemic ketamine infusion)") when the patient was dosed under more than one.

Doses come from ``platform.extensions.doses_of`` (one read for the patient); a questionnaire
linked to a session (Response.session_id) is placed against that session's dose, any other
against the dose nearest in time, before or after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from kapclinic.platform import extensions as ext
from kapclinic.platform.labels import ROUTE_LABELS


@dataclass(frozen=True)
class SinceDose:
    dose: ext.Dose
    offset: timedelta      # taken_at - given_at: negative before the dose
    words: str             # "24 h after the dose of 12 Nov"

    @property
    def minutes(self) -> int:
        return int(self.offset.total_seconds() / 60)  # toward zero: -0.5 min is 0, not -1


def span_words(offset: timedelta) -> str:
    """A clinician's reading of a time span: minutes under an hour, hours under two days,
    then days (whole, rounded down: "day 7" is 7 days after, not 6.9)."""
    seconds = abs(offset.total_seconds())
    if seconds < 3600:
        minutes = int(seconds // 60)
        return f"{minutes} min"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days != 1 else ''}"


def nearest(taken_at: datetime, doses: list[ext.Dose], session_id: int | None = None
            ) -> ext.Dose | None:
    """The session's dose when the questionnaire is linked to one, else the nearest dose."""
    if session_id is not None:
        linked = [d for d in doses if d.session_id == session_id]
        if linked:
            return linked[0]
    if not doses:
        return None
    return min(doses, key=lambda d: abs((taken_at - d.given_at).total_seconds()))


def describe(taken_at: datetime, doses: list[ext.Dose], zone: ZoneInfo,
             session_id: int | None = None) -> SinceDose | None:
    dose = nearest(taken_at, doses, session_id)
    if dose is None:
        return None
    offset = taken_at - dose.given_at
    day = timezone.localtime(dose.given_at, zone)
    # the protocol's name without its dosing details ("IV racemic ketamine infusion, 0.5
    # mg/kg over 40 minutes"), and only when the patient had more than one: on a phone the
    # line sits in a narrow table column, where a name repeated on every row costs lines
    what = protocol_name(dose) if len({d.protocol for d in doses}) > 1 else ""
    on = f"{day.day} {day:%b}"
    if day.year != timezone.localtime(timezone.now(), zone).year:
        on += f" {day.year}"
    if abs(offset) < timedelta(minutes=1):
        lead = "at"
    else:
        lead = f"{span_words(offset)} {'before' if offset < timedelta(0) else 'after'}"
    # before any dose: a pre-treatment score, which is what a clinician reads it as
    which = "the first dose" if offset < timedelta(0) and dose == doses[0] else "the dose"
    return SinceDose(dose, offset, f"{lead} {which} of {on}" + (f" ({what})" if what else ""))


def protocol_name(dose: ext.Dose) -> str:
    return dose.protocol_label.split(",")[0].strip() or ROUTE_LABELS.get(dose.route, dose.route)


def clinic_zone(request, patient) -> ZoneInfo:
    """The patient's clinic's time zone: the signed-in member's clinic (the same one, as the
    patient was found through it) comes loaded with the membership, so no extra query."""
    membership = getattr(request, "membership", None)
    if membership is not None and membership.clinic_id == patient.clinic_id:
        return membership.clinic.zone
    return patient.clinic.zone


def annotate(responses, doses: list[ext.Dose], zone: ZoneInfo) -> None:
    """Set ``since_dose`` (a SinceDose or None) on each response; no query."""
    for response in responses:
        response.since_dose = describe(response.taken_at, doses, zone,
                                       getattr(response, "session_id", None))
