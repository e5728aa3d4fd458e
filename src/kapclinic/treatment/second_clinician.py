"""A second clinician confirms a dose outside the protocol, authenticating in that moment:
their password, and their authenticator code when they have enrolled one. Both the
confirmation and a refusal are audited (a refusal as "denied", kept although the dose is not
recorded). Wrong passwords and codes count as at login: after ``AXES_FAILURE_LIMIT`` of them
within ``AXES_COOLOFF_TIME`` (since their last confirmation) the second clinician is refused
without checking, until the time is up. The count is read from those kept "denied" entries,
because a refusal rolls the dose's transaction back, and with it any counter written there
(django-otp's own throttle on the device included)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapclinic.accounts.models import Membership, User
from kapclinic.accounts.permissions import MATRIX, Action
from kapclinic.accounts.roles import Role
from kapclinic.accounts.scoping import for_clinic
from kapclinic.audit import trail
from kapclinic.audit.models import AuditEntry
from kapclinic.treatment.errors import ConfirmationRefused

WRONG = "The second clinician's password or code is not right: nothing was recorded."
WRONG_REASONS = ("wrong password", "wrong authenticator code")
LOCKED = ("Too many wrong passwords or codes for this second clinician: ask another, or try "
          "again in {minutes} minutes. Nothing was recorded.")


def member_named(session, username: str) -> User | None:
    """The user of the session's clinic whose username is ``username`` (None: nobody there
    is; a user of another clinic is not found, so the form cannot tell who exists elsewhere)."""
    return for_clinic(User, session.patient.clinic_id).filter(username=username).first()


def _refuse(session, second: User | None, field: str, why: str, message: str) -> ConfirmationRefused:
    trail.record("denied", object_type="administration", patient_id=session.patient_id,
                 detail={"reason": why, "session": session.pk,
                         "second_clinician": getattr(second, "pk", None)})
    return ConfirmationRefused(field, message)


def _wrong_recently(second: User) -> int:
    """Wrong passwords and codes typed for ``second`` within the cool-off, since their last
    confirmation (the kept "denied" and "dose_confirmed" entries name them)."""
    named = Q(detail_json__contains=f'"second_clinician":{second.pk},')
    since = timezone.now() - timedelta(hours=settings.AXES_COOLOFF_TIME)
    confirmed = AuditEntry.objects.filter(named, action="dose_confirmed", at__gte=since) \
        .order_by("-at").values_list("at", flat=True).first()
    wrong = Q()
    for reason in WRONG_REASONS:
        wrong |= Q(detail_json__contains=f'"reason":"{reason}"')
    return AuditEntry.objects.filter(named, wrong, action="denied", object_type="administration",
                                     at__gte=max(since, confirmed or since)).count()


def _code_ok(user: User, code: str) -> bool | None:
    """True/False for the code against their authenticator; None when they have not enrolled
    one. (django-otp's throttle is consulted, but a refusal rolls back what it would write: the
    count that holds is _wrong_recently's.)"""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
    if device is None:
        return None
    allowed, _ = device.verify_is_allowed()
    digits = code.replace(" ", "")
    if not allowed or not (digits.isdigit() and len(digits) == device.digits):
        return False
    return bool(device.verify_token(digits))


def confirm_second_clinician(session, *, by: User | None, second: User, password: str, code: str,
                             prescriber_needed: bool) -> None:
    """Raise ConfirmationRefused (audited) unless ``second`` is another member of the
    session's clinic whose role may confirm doses, with the right password (and code)."""
    clinic_id = session.patient.clinic_id
    if by is not None and second.pk == by.pk:
        raise _refuse(session, second, "second_clinician", "same person",
                      "The second clinician must be someone other than the one giving the dose.")
    # current memberships only (Membership.objects leaves ended ones out)
    role = for_clinic(Membership.objects.filter(user=second), clinic_id).values_list(
        "role", flat=True).first()
    if role is None or Role(role) not in MATRIX[Action.DOSE_CONFIRM] or not second.is_active:
        raise _refuse(session, second, "second_clinician", "role may not confirm doses",
                      "The second clinician must be a prescriber or nurse of this clinic.")
    if _wrong_recently(second) >= settings.AXES_FAILURE_LIMIT:
        raise _refuse(session, second, "second_password", "too many wrong attempts",
                      LOCKED.format(minutes=round(settings.AXES_COOLOFF_TIME * 60)))
    # the code first: without the code of the moment, nothing tells whether the password was right
    verified = _code_ok(second, code or "")
    if verified is False:
        raise _refuse(session, second, "second_code", "wrong authenticator code", WRONG)
    if not second.check_password(password or ""):
        raise _refuse(session, second, "second_password", "wrong password", WRONG)
    if prescriber_needed and role != Role.PRESCRIBER and by is not None:
        by_role = for_clinic(Membership.objects.filter(user=by), clinic_id).values_list(
            "role", flat=True).first()
        if by_role != Role.PRESCRIBER:
            # clinical.md 5 encoding guidance: a dose outside the range needs the prescriber's reason
            raise _refuse(session, second, "second_clinician", "no prescriber",
                          "A dose outside the protocol needs a prescriber: either the one giving "
                          "it or the second clinician.")
    trail.record("dose_confirmed", object_type="session", object_id=session.pk,
                 patient_id=session.patient_id,
                 detail={"second_clinician": second.pk, "with_code": verified is True})
