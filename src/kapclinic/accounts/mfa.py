"""Two-factor login with a time-based one-time code (TOTP, RFC 6238, via django-otp).

A user with a confirmed authenticator gives a code after the password before any page or
API call (through the browser session) works; a clinic that requires two-factor sends its
users without one to enrol first. API tokens are a separate credential and are not asked.
Codes are throttled by django-otp (exponential back-off after a wrong code).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import segno
from django.http import HttpRequest
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from kapclinic.accounts.models import Clinic, User
from kapclinic.audit import trail
from kapclinic.audit.actions import action

VERIFY = "verify"
ENROL = "enrol"


class MfaRequired(Exception):
    """The browser session still owes its second factor (``step`` is VERIFY or ENROL)."""

    def __init__(self, step: str):
        super().__init__(step)
        self.step = step


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_step(request: HttpRequest) -> str | None:
    """What the session must do before anything else: give a code, enrol, or nothing.
    Worked out once per request (the page and its navigation both ask)."""
    if not hasattr(request, "_mfa_step"):
        request._mfa_step = _pending_step(request)  # type: ignore[attr-defined]
    return request._mfa_step  # type: ignore[attr-defined]


def _pending_step(request: HttpRequest) -> str | None:
    if not request.user.is_authenticated or getattr(request, "api_token", None) is not None:
        return None
    if request.user.is_verified():  # type: ignore[union-attr]
        return None
    if confirmed_device(request.user) is not None:  # type: ignore[arg-type]
        return VERIFY
    membership = getattr(request, "membership", None)
    if membership is not None and membership.clinic.require_mfa:
        return ENROL
    return None


def forget_step(request: HttpRequest) -> None:
    """After the second factor changed during this request."""
    if hasattr(request, "_mfa_step"):
        del request._mfa_step  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Checked:
    ok: bool
    message: str = ""
    throttled: bool = False


def _check(device_pk: int, code: str) -> tuple[TOTPDevice, Checked]:
    """Check ``code`` against the device, locked for the transaction the caller holds, so
    parallel guesses cannot share one failure count nor one code be used twice."""
    device = TOTPDevice.objects.select_for_update().get(pk=device_pk)
    allowed, data = device.verify_is_allowed()
    if not allowed:
        wait = (data or {}).get("locked_until")
        if wait:  # in the clinic's zone (activated for the request), named: 14:03:12 EST
            wait = timezone.localtime(wait)
        return device, Checked(False, "Too many wrong codes: wait a minute before the next try"
                               + (f" (until {wait:%H:%M:%S} {wait:%Z})." if wait else "."),
                               throttled=True)
    code = _digits(code, device.digits)
    if code is None:
        return device, Checked(False, malformed(device.digits))
    if device.verify_token(code):
        return device, Checked(True)
    return device, Checked(False, WRONG_CODE)


WRONG_CODE = ("That code is not right. Codes change every 30 seconds: enter the one shown now "
              "(and check the phone's clock is set automatically).")


def malformed(digits: int = 6) -> str:
    return f"Enter the {digits}-digit code your authenticator app shows now."


def _digits(code: str, digits: int) -> str | None:
    """The code as typed (spaces allowed), or None unless it is ``digits`` digits."""
    code = code.replace(" ", "")
    return code if code.isdigit() and len(code) == digits else None


def _logged_in_with(request: HttpRequest, device: TOTPDevice) -> None:
    """The session counts as verified from now on, under a new session key (no fixation)."""
    otp_login(request, device)
    request.session.cycle_key()
    forget_step(request)


def verify(request: HttpRequest, code: str) -> Checked:
    """The second step of a login."""
    found = confirmed_device(request.user)  # type: ignore[arg-type]
    if found is None:
        return Checked(False, "No authenticator is set up for this account.")
    device, checked = _check_code(device_pk=found.pk, code=code, by=request.user)
    if checked.ok:
        _logged_in_with(request, device)
    return checked


@action
def _check_code(*, device_pk: int, code: str, by: User) -> tuple[TOTPDevice, Checked]:
    device, checked = _check(device_pk, code)
    trail.record("mfa_verified" if checked.ok else "mfa_failed", object_type="user",
                 object_id=by.pk, detail={"throttled": True} if checked.throttled else {})
    return device, checked


ENROL_KEY = "mfa_enrolment_key"


def enrolment_device(request: HttpRequest) -> TOTPDevice:
    """The authenticator being set up in this session: its key lives in this session only
    (never in the database, never shown to another session) until a right code confirms it."""
    key = request.session.get(ENROL_KEY)
    if not key:
        key = random_hex(20)
        request.session[ENROL_KEY] = key
    return TOTPDevice(user=request.user, name="authenticator app", key=key, confirmed=False)


def secret_text(device: TOTPDevice) -> str:
    """The key as authenticator apps accept it typed in: base32 in groups of four."""
    raw = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// address as an inline SVG QR code (made here: no network, no image)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4, border=2, dark="#1b2733")


def _step_of(device: TOTPDevice, code: int) -> int | None:
    """The time step at which ``code`` is right, allowing one step of clock drift either way."""
    for drift in (-1, 0, 1):
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, drift)
        if totp.token() == code:
            return totp.t()
    return None


def confirm_enrolment(request: HttpRequest, code: str) -> Checked:
    """Turn the authenticator on once it shows a right code; the session counts as verified."""
    pending = enrolment_device(request)
    typed = _digits(code, pending.digits)
    step = _step_of(pending, int(typed)) if typed is not None else None
    if step is None:
        trail.record("mfa_failed", object_type="user", object_id=request.user.pk,
                     detail={"during": "enrolment"})
        return Checked(False, WRONG_CODE if typed is not None else malformed(pending.digits))
    _turn_on(pending=pending, step=step, by=request.user)
    del request.session[ENROL_KEY]
    _logged_in_with(request, pending)
    return Checked(True)


@action
def _turn_on(*, pending: TOTPDevice, step: int, by: User) -> None:
    """The authenticator replaces any other of the user's, with the code it showed spent."""
    TOTPDevice.objects.filter(user=by).delete()
    pending.confirmed = True
    pending.last_t = step
    pending.save()
    trail.record("update", object_type="user", object_id=by.pk, detail={"mfa": "enrolled"})


def remove(request: HttpRequest, code: str) -> Checked:
    """The user turns two-factor off, proving it with a current code."""
    membership = getattr(request, "membership", None)
    if membership is not None and membership.clinic.require_mfa:
        return Checked(False, f"{membership.clinic.name} requires two-factor login: it cannot "
                              "be turned off.")
    found = confirmed_device(request.user)  # type: ignore[arg-type]
    if found is None:
        return Checked(False, "Two-factor login is not on.")
    return _turn_off(device_pk=found.pk, code=code, by=request.user)


@action
def _turn_off(*, device_pk: int, code: str, by: User) -> Checked:
    _, checked = _check(device_pk, code)
    if checked.ok:
        TOTPDevice.objects.filter(user=by).delete()
        trail.record("update", object_type="user", object_id=by.pk, detail={"mfa": "removed"})
    else:
        trail.record("mfa_failed", object_type="user", object_id=by.pk,
                     detail={"during": "turning off", "throttled": checked.throttled})
    return checked


@action
def reset(user: User, *, by: User | None) -> bool:
    """An admin (``staff.reset_authenticator``) or whoever runs the server (``kapclinic mfa
    reset``, by=None) clears a user's authenticator: lost phone. False when there was none."""
    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    if removed:
        trail.record("update", object_type="user", object_id=user.pk, detail={"mfa": "reset"})
    return bool(removed)


@action
def require_for_clinic(*, clinic: Clinic, required: bool, by: User | None) -> bool:
    """Whether every user of ``clinic`` logs in with an authenticator code as well; False
    (nothing written) when it already was so. Updates ``clinic`` in memory too."""
    done = Clinic.objects.filter(pk=clinic.pk).exclude(require_mfa=required).update(
        require_mfa=required)
    if done:
        trail.record("update", object_type="clinic", object_id=clinic.pk, clinic_id=clinic.pk,
                     detail={"require_mfa": required})
    clinic.require_mfa = required
    return bool(done)
