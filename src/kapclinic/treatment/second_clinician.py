"""A second clinician confirms a dose outside the protocol, authenticating in that moment:
their password, and their authenticator code when they have enrolled one. Both the
confirmation and a refusal are audited (a refusal as "denied", kept although the dose is not
recorded)."""

from __future__ import annotations

from django_otp.plugins.otp_totp.models import TOTPDevice

from kapclinic.accounts.models import Membership, User
from kapclinic.accounts.permissions import MATRIX, Action
from kapclinic.accounts.roles import Role
from kapclinic.accounts.scoping import for_clinic
from kapclinic.audit import trail
from kapclinic.treatment.errors import ConfirmationRefused

WRONG = "The second clinician's password or code is not right: nothing was recorded."


def member_named(session, username: str) -> User | None:
    """The user of the session's clinic whose username is ``username`` (None: nobody there
    is; a user of another clinic is not found, so the form cannot tell who exists elsewhere)."""
    return for_clinic(User, session.patient.clinic_id).filter(username=username).first()


def _refuse(session, second: User | None, field: str, why: str, message: str) -> ConfirmationRefused:
    trail.record("denied", object_type="administration", patient_id=session.patient_id,
                 detail={"reason": why, "session": session.pk,
                         "second_clinician": getattr(second, "pk", None)})
    return ConfirmationRefused(field, message)


def _code_ok(user: User, code: str) -> bool | None:
    """True/False for the code against their authenticator (locked, throttled as at login);
    None when they have not enrolled one."""
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
    role = Membership.objects.filter(user=second, clinic_id=clinic_id).values_list(
        "role", flat=True).first()
    if role is None or Role(role) not in MATRIX[Action.DOSE_CONFIRM] or not second.is_active:
        raise _refuse(session, second, "second_clinician", "role may not confirm doses",
                      "The second clinician must be a prescriber or nurse of this clinic.")
    if not second.check_password(password or ""):
        raise _refuse(session, second, "second_password", "wrong password", WRONG)
    verified = _code_ok(second, code or "")
    if verified is False:
        raise _refuse(session, second, "second_code", "wrong authenticator code", WRONG)
    if prescriber_needed and role != Role.PRESCRIBER and by is not None:
        by_role = Membership.objects.filter(user=by, clinic_id=clinic_id).values_list(
            "role", flat=True).first()
        if by_role != Role.PRESCRIBER:
            # clinical.md 5 encoding guidance: a dose outside the range needs the prescriber's reason
            raise _refuse(session, second, "second_clinician", "no prescriber",
                          "A dose outside the protocol needs a prescriber: either the one giving "
                          "it or the second clinician.")
    trail.record("dose_confirmed", object_type="session", object_id=session.pk,
                 patient_id=session.patient_id,
                 detail={"second_clinician": second.pk, "with_code": verified is True})
