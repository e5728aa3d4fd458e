"""What a person does for themselves (change their password, ask for a reset link by email)
and giving a patient a login to their portal."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy

from kapclinic.accounts import staff
from kapclinic.accounts.models import Membership, User
from kapclinic.accounts.permissions import Action, public, require
from kapclinic.accounts.scoping import for_clinic
from kapclinic.patients.access import get_patient_for_user
from kapclinic.platform import ratelimit

# ---- change your own password -----------------------------------------------------------

class PasswordChangeView(auth_views.PasswordChangeView):
    """Old password, the new one twice (Django's validators); the session stays logged in."""

    template_name = "web/password_change.html"
    form_class = PasswordChangeForm
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        # Django's own form_valid saves the form; the action saves and audits instead
        staff.change_own_password(user=form.user, password=form.cleaned_data["new_password1"],
                                  by=self.request.user)
        update_session_auth_hash(self.request, form.user)  # this session stays logged in
        messages.success(self.request, "Your password is changed. Use the new one from now on.")
        return HttpResponseRedirect(self.get_success_url())


password_change = require(Action.SELF_VIEW)(PasswordChangeView.as_view())


def acting_user(request: HttpRequest) -> User | None:
    """Who acts on a page anyone may open: the logged-in user, or nobody (None: the trail
    keeps the request's anonymous actor)."""
    return request.user if request.user.is_authenticated else None  # type: ignore[return-value]


# ---- forgot password ------------------------------------------------------------------

class ForgotPasswordForm(forms.Form):
    email = forms.EmailField(label="Your email address", max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email",
                                                            "autofocus": True}))


RESET_SUBJECT = "Reset your kapclinic password"


def _reset_pending(email: str) -> bool:
    """A reset email to this address is still waiting in the outbox (queued, being sent or
    to be retried): its link works, so no second one is made."""
    from kapclinic.alerts.models import OutboxMessage

    waiting = (OutboxMessage.Status.QUEUED, OutboxMessage.Status.SENDING,
               OutboxMessage.Status.RETRYING)
    return OutboxMessage.objects.filter(to__iexact=email, subject=RESET_SUBJECT,
                                        status__in=waiting).exists()


@public
def forgot_password(request: HttpRequest) -> HttpResponse:
    """Email a set-password link (the same single-use, time-limited link an admin issues) to
    each account with the address; the page answers the same whether or not one exists, and
    whether or not a limit held the email back: at most KAPCLINIC_RATE_LIMITS
    ["password-reset"] requests per address asked for and per client address, and no new
    link while one to that address still waits in the outbox."""
    form = ForgotPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        from kapclinic.alerts.notifications import send_to_staff

        days = staff.link_days()
        email = form.cleaned_data["email"].strip().lower()

        def send(user: User, clinic_id: int, link: str) -> None:
            send_to_staff(clinic_id, user.email, subject=RESET_SUBJECT,
                          body=f"Hello {user.first_name or user.username},\n\nSomeone (we hope "
                               f"you) asked to reset the password of your kapclinic login "
                               f"{user.username}. Set a new one here (the link works once, "
                               f"for {days} days): {link}\n\nIf it was not you, ignore this "
                               "email: your password stays as it is.", secret=link)

        try:
            ratelimit.hit("password-reset", request, subject=f"email:{email}")
        except ratelimit.RateLimited:
            pass
        else:  # every account with the address gets one, unless a link still waits
            if not _reset_pending(email):
                staff.request_password_reset(email=email, base_url=request.build_absolute_uri("/"),
                                             send=send, by=acting_user(request))
        return render(request, "web/forgot_password.html", {"sent": True, "days": days})
    return render(request, "web/forgot_password.html", {"form": form},
                  status=422 if request.method == "POST" else 200)


# ---- a patient's portal login -------------------------------------------------------------

class PortalLoginForm(forms.Form):
    username = forms.CharField(max_length=150, help_text=staff.USERNAME_RULE + "; it is saved "
                               "after the clinic's name (shown after creating it)")

    def clean_username(self):
        try:
            return staff.normalise_username(self.cleaned_data["username"])
        except staff.StaffError as exc:
            raise forms.ValidationError(str(exc)) from exc


@require(Action.PATIENT_EDIT)
def portal_login(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.PATIENT_EDIT)
    form = PortalLoginForm(request.POST or None)
    if request.method == "POST" and patient.user_id is None and form.is_valid():
        username = staff.clinic_username(patient.clinic, form.cleaned_data["username"])
        if staff.username_like(username) is not None:
            form.add_error("username", staff.taken_message(username))
        else:
            from kapclinic.patients import actions

            user = actions.grant_portal_login(patient=patient, username=username,
                                              by=request.user)
            membership = for_clinic(Membership.objects.filter(user=user), patient.clinic_id).get()
            link = staff.issue_password_link(membership=membership,
                                             base_url=request.build_absolute_uri("/"),
                                             by=request.user)
            days = staff.link_days()
            if patient.email:
                from kapclinic.alerts.notifications import send_to_patient

                send_to_patient(patient, subject=f"{patient.clinic.name}: your patient portal",
                                body=f"Hello {patient.given_name},\n\nYour login to "
                                     f"{patient.clinic.name}'s patient portal is {username}. "
                                     f"Set your password here (the link works once, for {days} "
                                     f"days): {link}", secret=link)
            messages.success(request, f"{patient.full_name} can now log in to the portal as "
                                      f"{username}. Set-password link (shown once; "
                                      f"{'also emailed' if patient.email else 'give it to them'}"
                                      f"): {link}")
            return redirect("patient-chart", patient_id=patient.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "web/portal_login.html", {"patient": patient, "form": form,
                                                     "days": staff.link_days()}, status=status)


