"""Two-factor pages: give the code after the password, set up or turn off an authenticator
app, and the clinic admin's security page (require it, reset a lost one)."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from kapclinic.accounts import mfa
from kapclinic.accounts.models import Clinic
from kapclinic.accounts.permissions import Action, require


class CodeForm(forms.Form):
    code = forms.CharField(label="Code from your authenticator app", max_length=12,
                           widget=forms.TextInput(attrs={
                               "autocomplete": "one-time-code", "inputmode": "numeric",
                               "autofocus": True, "pattern": "[0-9 ]*"}))


class SecurityForm(forms.Form):
    require_mfa = forms.BooleanField(
        required=False, label="Every user of this clinic logs in with an authenticator app "
                              "code as well as the password")

    def __init__(self, *args, instance: Clinic, **kwargs):
        super().__init__(*args, initial={"require_mfa": instance.require_mfa}, **kwargs)


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    safe = url_has_allowed_host_and_scheme(target, {request.get_host()},
                                           require_https=request.is_secure())
    return target if safe else "/"


@require(Action.SELF_VIEW, during_mfa=True)
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    if mfa.pending_step(request) != mfa.VERIFY:
        return redirect(_next(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        checked = mfa.verify(request, form.cleaned_data["code"])
        if checked.ok:
            return redirect(_next(request))
        form.add_error("code", checked.message)
    return render(request, "web/two_factor_verify.html", {"form": form, "next": _next(request)},
                  status=422 if form.errors else 200)


@require(Action.SELF_VIEW, during_mfa=True)
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    if mfa.pending_step(request) == mfa.VERIFY:  # has one: give its code first
        return redirect(f"{reverse('mfa-verify')}?{urlencode({'next': request.path})}")
    current = mfa.confirmed_device(request.user)
    form = CodeForm(request.POST or None)
    if current is None and request.method == "POST" and form.is_valid():
        checked = mfa.confirm_enrolment(request, form.cleaned_data["code"])
        if checked.ok:
            messages.success(request, "Two-factor login is on: from now on you give a code "
                                      "from the app after your password.")
            return redirect(_next(request))
        form.add_error("code", checked.message)
    context = {"form": form, "current": current, "next": _next(request),
               "required": request.membership is not None and request.membership.clinic.require_mfa}
    if current is None:
        device = mfa.enrolment_device(request)
        context.update(qr=mfa.qr_svg(device), secret=mfa.secret_text(device))
    return render(request, "web/two_factor_enrol.html", context,
                  status=422 if form.errors else 200)


@require(Action.SELF_VIEW)
@require_POST
def remove(request: HttpRequest) -> HttpResponse:
    form = CodeForm(request.POST)
    checked = (mfa.remove(request, form.cleaned_data["code"]) if form.is_valid()
               else mfa.Checked(False, mfa.malformed()))
    if checked.ok:
        messages.success(request, "Two-factor login is off for your account.")
    else:
        messages.error(request, f"Two-factor login stays on. {checked.message}")
    return redirect("mfa-enrol")


@require(Action.SECURITY_SETTINGS)
@require_POST
def security(request: HttpRequest) -> HttpResponse:
    """Whether the clinic requires two-factor login (a form on the Users page)."""
    clinic = request.membership.clinic
    form = SecurityForm(request.POST, instance=clinic)
    if form.is_valid() and mfa.require_for_clinic(
            clinic=clinic, required=form.cleaned_data["require_mfa"], by=request.user):
        messages.success(request, "Two-factor login is now required for everyone here."
                         if clinic.require_mfa else "Two-factor login is now optional here.")
    return redirect("users")
