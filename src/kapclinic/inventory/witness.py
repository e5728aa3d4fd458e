"""The witness of a wastage authenticates in that moment, as the second clinician of a dose
does: their password, and their authenticator code when they have enrolled one. Both the
witnessing and a refusal are audited (a refusal as "denied", kept although the wastage is not
recorded). After ``AXES_FAILURE_LIMIT`` wrong passwords or codes within ``AXES_COOLOFF_TIME``
the witness is refused without checking, until the time is up (counted from the kept
"denied" entries, since a refusal rolls back anything written in its transaction)."""

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
from kapclinic.inventory.errors import WitnessRefused

WRONG = "The witness's password or code is not right: nothing was recorded."
WRONG_REASONS = ("wrong password", "wrong authenticator code")
LOCKED = ("Too many wrong passwords or codes for this witness: ask another, or try again in "
          "{minutes} minutes. Nothing was recorded.")


def member_named(clinic_id: int, username: str) -> User | None:
    """The user of the clinic whose username is ``username`` (None: nobody there is)."""
    return for_clinic(User, clinic_id).filter(username=username).first()


def _refuse(lot, witness: User | None, field: str, why: str, message: str) -> WitnessRefused:
    trail.record("denied", object_type="ledger_line",
                 detail={"reason": why, "lot": lot.pk, "witness": getattr(witness, "pk", None)})
    return WitnessRefused(field, message)


def _wrong_recently(witness: User) -> int:
    named = Q(detail_json__contains=f'"witness":{witness.pk}}}')  # the last key (sorted)
    since = timezone.now() - timedelta(hours=settings.AXES_COOLOFF_TIME)
    confirmed = AuditEntry.objects.filter(named, action="witnessed", at__gte=since) \
        .order_by("-at").values_list("at", flat=True).first()
    wrong = Q()
    for reason in WRONG_REASONS:
        wrong |= Q(detail_json__contains=f'"reason":"{reason}"')
    return AuditEntry.objects.filter(named, wrong, action="denied", object_type="ledger_line",
                                     at__gte=max(since, confirmed or since)).count()


def _code_ok(user: User, code: str) -> bool | None:
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
    if device is None:
        return None
    allowed, _ = device.verify_is_allowed()
    digits = code.replace(" ", "")
    if not allowed or not (digits.isdigit() and len(digits) == device.digits):
        return False
    return bool(device.verify_token(digits))


def confirm_witness(lot, *, by: User | None, witness: User | None, password: str,
                    code: str, field: str = "witness", may: Action = Action.STOCK_WASTE,
                    roles_said: str = "a prescriber or nurse") -> None:
    """Raise WitnessRefused (audited) unless ``witness`` is another member of the lot's
    clinic whose role may ``may`` (waste stock, by default), with the right password (and
    code). ``field`` names the form's witness field (a destruction has two)."""
    if witness is None:
        raise WitnessRefused(field, "Give the username of the person who saw it: the clinic "
                                    "requires a witness.")
    if by is not None and witness.pk == by.pk:
        raise _refuse(lot, witness, field, "same person",
                      "The witness must be someone other than the one recording it.")
    role = for_clinic(Membership.objects.filter(user=witness), lot.clinic_id).values_list(
        "role", flat=True).first()
    if role is None or Role(role) not in MATRIX[may] or not witness.is_active:
        raise _refuse(lot, witness, field, "role may not witness",
                      f"The witness must be {roles_said} of this clinic.")
    if _wrong_recently(witness) >= settings.AXES_FAILURE_LIMIT:
        raise _refuse(lot, witness, f"{field}_password", "too many wrong attempts",
                      LOCKED.format(minutes=round(settings.AXES_COOLOFF_TIME * 60)))
    verified = _code_ok(witness, code or "")
    if verified is False:
        raise _refuse(lot, witness, f"{field}_code", "wrong authenticator code", WRONG)
    if not witness.check_password(password or ""):
        raise _refuse(lot, witness, f"{field}_password", "wrong password", WRONG)
    trail.record("witnessed", object_type="lot", object_id=lot.pk,
                 detail={"witness": witness.pk, "with_code": verified is True})
