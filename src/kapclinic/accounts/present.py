"""Another person authenticates now, at someone else's desk: the second clinician of a dose
outside the protocol, the witness of a wastage or a destruction. They type their password, and
their authenticator code when they have enrolled one; a refusal is audited as "denied" (kept
although the caller's transaction rolls back, see audit.actions).

Wrong passwords and codes count as at login, and for the person, whatever they were typed for:
after ``AXES_FAILURE_LIMIT`` of them within ``AXES_COOLOFF_TIME`` (since their last success for
any purpose) they are refused without checking until the time is up, and so is someone
django-axes has locked out at login. The count is read from the kept "denied" entries, because
a refusal rolls back anything written in its transaction (django-otp's own throttle included).

Each caller keeps its own words (messages, form fields, audit object types and detail keys)
in a :class:`Purpose`; this app imports none of the callers, which register their purpose
when their module is loaded (from their app's ready()).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapclinic.accounts.models import Membership, User
from kapclinic.accounts.scoping import for_clinic
from kapclinic.audit import context, trail
from kapclinic.audit.models import AuditEntry

WRONG_REASONS = ("wrong password", "wrong authenticator code")


@dataclass(frozen=True)
class Purpose:
    """What a person authenticates for, in the caller's words."""
    refused: type[Exception]  # raised as refused(field, message)
    denied_type: str  # the object type of its "denied" entries
    person_key: str  # the detail key naming the person, in those and in its success entry
    done: str  # the action of its success entry ("dose_confirmed", "witnessed")
    wrong: str  # the message for a wrong password or code
    locked: str  # the message when locked out; {minutes}: the cool-off


_purposes: dict[tuple[str, str], Purpose] = {}


def register(purpose: Purpose) -> Purpose:
    """Count ``purpose``'s wrong attempts with every other's (call when the module loads)."""
    _purposes[(purpose.denied_type, purpose.person_key)] = purpose
    return purpose


def member_named(clinic_id: int, username: str) -> User | None:
    """The user of the clinic whose username is ``username`` (None: nobody there is; a user of
    another clinic is not found, so a form cannot tell who exists elsewhere)."""
    return for_clinic(User, clinic_id).filter(username=username).first()


def role_in(person: User, clinic_id: int) -> str | None:
    """Their role in the clinic now (Membership.objects leaves ended memberships out)."""
    return for_clinic(Membership.objects.filter(user=person), clinic_id).values_list(
        "role", flat=True).first()


@dataclass
class Attempt:
    """One person authenticating for ``purpose``; ``about`` is added to each audit detail
    (e.g. {"lot": 3}), ``patient_id`` to each refusal."""
    purpose: Purpose
    person: User
    about: dict[str, Any] = field(default_factory=dict)
    patient_id: int | None = None
    with_code: bool = False

    def refused(self, form_field: str, why: str, message: str) -> Exception:
        """The caller's exception to raise, its refusal audited."""
        trail.record("denied", object_type=self.purpose.denied_type, patient_id=self.patient_id,
                     detail={**self.about, "reason": why,
                             self.purpose.person_key: self.person.pk})
        return self.purpose.refused(form_field, message)

    def authenticate(self, password: str, code: str, *, fields: str) -> None:
        """Raise the caller's refusal (audited) unless the person may try now and both their
        code (when enrolled) and password are right. The form's fields are named
        ``{fields}password`` and ``{fields}code``."""
        person = self.person
        password_field, code_field = f"{fields}password", f"{fields}code"
        cool_off = get_cool_off()
        if _locked_at_login(person, cool_off):
            raise self.refused(password_field, "locked out at login", self._locked(cool_off))
        if _wrong_recently(person, cool_off) >= settings.AXES_FAILURE_LIMIT:
            raise self.refused(password_field, "too many wrong attempts", self._locked(cool_off))
        # the code first: without the code of the moment, nothing tells whether the password was right
        verified = _code_ok(person, code or "")
        if verified is False:
            raise self.refused(code_field, "wrong authenticator code", self.purpose.wrong)
        if not person.check_password(password or ""):
            raise self.refused(password_field, "wrong password", self.purpose.wrong)
        self.with_code = verified is True

    def confirmed(self, *, object_type: str, object_id: int, patient_id: int | None = None) -> None:
        """Audit the success (which also starts their count of wrong attempts afresh)."""
        trail.record(self.purpose.done, object_type=object_type, object_id=object_id,
                     patient_id=patient_id,
                     detail={self.purpose.person_key: self.person.pk, "with_code": self.with_code})

    def _locked(self, cool_off: timedelta) -> str:
        return self.purpose.locked.format(minutes=round(cool_off.total_seconds() / 60))


def _naming(key: str, pk: int) -> Q:
    # detail_json is written with sorted keys and no spaces: the value ends at "," or "}"
    return (Q(detail_json__contains=f'"{key}":{pk},')
            | Q(detail_json__contains=f'"{key}":{pk}}}'))


def _wrong_recently(person: User, cool_off: timedelta) -> int:
    """Wrong passwords and codes typed for ``person``, for any purpose, within the cool-off and
    since their last success."""
    since = timezone.now() - cool_off
    done, denied = Q(pk__in=[]), Q(pk__in=[])
    for purpose in _purposes.values():
        named = _naming(purpose.person_key, person.pk)
        done |= Q(action=purpose.done) & named
        denied |= Q(object_type=purpose.denied_type) & named
    last = AuditEntry.objects.filter(done, at__gte=since).order_by("-at") \
        .values_list("at", flat=True).first()
    wrong = Q(pk__in=[])
    for reason in WRONG_REASONS:
        wrong |= Q(detail_json__contains=f'"reason":"{reason}"')
    return AuditEntry.objects.filter(denied, wrong, action="denied",
                                     at__gte=max(since, last or since)).count()


def _locked_at_login(person: User, cool_off: timedelta) -> bool:
    """Whether django-axes would refuse their login from here now: its failures for their
    username within the cool-off, at the address of this request (settings key lockouts on
    username and address), or at any address when no request brought one (a command)."""
    attempts = AccessAttempt.objects.filter(username=person.username,
                                            attempt_time__gte=timezone.now() - cool_off)
    address = context.current().client_addr
    if _is_address(address):
        attempts = attempts.filter(ip_address=address)
    return attempts.values("ip_address").annotate(failures=Sum("failures_since_start")) \
        .filter(failures__gte=settings.AXES_FAILURE_LIMIT).exists()


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


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
