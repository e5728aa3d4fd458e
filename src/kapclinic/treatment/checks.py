"""What every write of a session checks the same way: its times (an offset, not in the future,
late only with a reason, not long before the session) and its free text's length. The pieces
that read the database (the clinic's late-entry allowance, the session's earliest time) are
apart from the pure checks, so a batch of readings (treatment.vitals) reads them once."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import Session, SessionEvent, State, TreatmentSettings

# Clocks of tablets and servers differ by a little: a time up to this far ahead is taken as
# now, anything later is refused as in the future (an engineering tolerance).
CLOCK_SKEW = timedelta(minutes=2)
MAX_TEXT = 4000
# engineering bounds on clinical times (keying errors, and years a datetime cannot convert)
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
BEFORE_SESSION = timedelta(days=1)


def check_time(when: datetime, field: str, *, clinic_id: int, late_reason: str = "",
               now: datetime | None = None) -> None:
    """Refuse a time without an offset or in the future; one more than the clinic's
    allowance ago needs ``late_reason``."""
    check_time_within(when, field, allowance_minutes=late_entry_minutes(clinic_id),
                      late_reason=late_reason, now=now)


def late_entry_minutes(clinic_id: int) -> int:
    return TreatmentSettings.for_clinic(clinic_id).late_entry_minutes


def check_time_within(when: datetime, field: str, *, allowance_minutes: int, late_reason: str = "",
                      now: datetime | None = None) -> None:
    """``check_time`` with the clinic's allowance already read."""
    if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise FieldError(field, "needs a date, a time and a UTC offset (e.g. 2026-11-25T09:30:00-05:00)")
    if not EARLIEST_YEAR <= when.year <= LATEST_YEAR:
        raise FieldError(field, f"is in the year {when.year}: check the date")
    now = now or timezone.now()
    if when > now + CLOCK_SKEW:
        raise FieldError(field, "is in the future: record it after it happened")
    if now - when > timedelta(minutes=allowance_minutes) and not late_reason.strip():
        raise FieldError("late_reason", f"{field} is more than {allowance_minutes} minutes ago: say "
                                        "why it is recorded late")


def check_session_time(session: Session, when: datetime, field: str, *, late_reason: str = "",
                       from_booking: bool = False) -> None:
    """``check_time``, and not long before the session: a time more than a day before its
    booking (or its check-in, when that came earlier) is a keying error. The step out of the
    booking (a check-in on another day, with its reason, or a cancellation weeks ahead) may
    come within a year of it."""
    check_time(when, field, clinic_id=session.patient.clinic_id, late_reason=late_reason)
    check_not_before(session, when, field, earliest_time(session, from_booking=from_booking))


def earliest_time(session: Session, *, from_booking: bool = False) -> datetime:
    """The earliest a time of ``session`` may be (see check_session_time)."""
    if from_booking:
        return session.scheduled_at - timedelta(days=366)
    return earliest_after_check_in(session, SessionEvent.objects.filter(
        session=session, to_state=State.CHECKED_IN).order_by("at").values_list("at", flat=True).first())


def earliest_after_check_in(session: Session, checked_in_at: datetime | None) -> datetime:
    """A day before its booking, or its check-in when that came earlier."""
    return min(session.scheduled_at, checked_in_at or session.scheduled_at) - BEFORE_SESSION


def check_not_before(session: Session, when: datetime, field: str, earliest: datetime) -> None:
    if when < earliest:
        local = timezone.localtime(session.scheduled_at, ZoneInfo(session.patient.clinic.time_zone))
        raise FieldError(field, f"is long before this session (booked for {local:%Y-%m-%d %H:%M}): "
                                "check the date")


def text(field: str, value: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_TEXT:
        raise FieldError(field, f"is longer than {MAX_TEXT} characters")
    return value
