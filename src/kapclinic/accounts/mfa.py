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
from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapclinic.accounts.models import User
from kapclinic.audit import trail

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
    if TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
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


def _check(device: TOTPDevice, code: str) -> Checked:
    allowed, data = device.verify_is_allowed()
    if not allowed:
        wait = (data or {}).get("locked_until")
        return Checked(False, "Too many wrong codes: wait a minute before the next try"
                       + (f" (until {wait:%H:%M:%S})." if wait else "."))
    code = code.replace(" ", "")
    if not (code.isdigit() and len(code) == device.digits):
        return Checked(False, f"Enter the {device.digits}-digit code your authenticator app "
                              "shows now.")
    if device.verify_token(code):
        return Checked(True)
    return Checked(False, "That code is not right. Codes change every 30 seconds: enter the "
                          "one shown now (and check the phone's clock is set automatically).")


def verify(request: HttpRequest, code: str) -> Checked:
    """The second step of a login."""
    device = confirmed_device(request.user)  # type: ignore[arg-type]
    if device is None:
        return Checked(False, "No authenticator is set up for this account.")
    with transaction.atomic():
        checked = _check(device, code)
        trail.record("mfa_verified" if checked.ok else "mfa_failed", object_type="user",
                     object_id=request.user.pk)
    if checked.ok:
        otp_login(request, device)
        forget_step(request)
    return checked


def enrolment_device(user: User) -> TOTPDevice:
    """The authenticator being set up (unconfirmed) for ``user``: one at a time."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator app",
                                               confirmed=False)


def secret_text(device: TOTPDevice) -> str:
    """The key as authenticator apps accept it typed in: base32 in groups of four."""
    raw = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// address as an inline SVG QR code (made here: no network, no image)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4, border=2, dark="#1b2733")


def confirm_enrolment(request: HttpRequest, code: str) -> Checked:
    """Turn the authenticator on once it shows a right code; the session counts as verified."""
    device = enrolment_device(request.user)  # type: ignore[arg-type]
    with transaction.atomic():
        checked = _check(device, code)
        if checked.ok:
            TOTPDevice.objects.filter(user=request.user, confirmed=True).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            trail.record("update", object_type="user", object_id=request.user.pk,
                         detail={"mfa": "enrolled"})
    if checked.ok:
        otp_login(request, device)
        forget_step(request)
    return checked


def remove(request: HttpRequest, code: str) -> Checked:
    """The user turns two-factor off, proving it with a current code."""
    membership = getattr(request, "membership", None)
    if membership is not None and membership.clinic.require_mfa:
        return Checked(False, f"{membership.clinic.name} requires two-factor login: it cannot "
                              "be turned off.")
    device = confirmed_device(request.user)  # type: ignore[arg-type]
    if device is None:
        return Checked(False, "Two-factor login is not on.")
    with transaction.atomic():
        checked = _check(device, code)
        if checked.ok:
            TOTPDevice.objects.filter(user=request.user).delete()
            trail.record("update", object_type="user", object_id=request.user.pk,
                         detail={"mfa": "removed"})
    return checked


def reset(user: User) -> bool:
    """An admin (or ``kapclinic mfa reset``) clears a user's authenticator: lost phone."""
    with transaction.atomic():
        removed, _ = TOTPDevice.objects.filter(user=user).delete()
        if removed:
            trail.record("update", object_type="user", object_id=user.pk,
                         detail={"mfa": "reset"})
    return bool(removed)
