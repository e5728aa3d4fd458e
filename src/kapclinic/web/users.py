"""The clinic admin's Users page: who works here in which role, their two-factor login, and
adding staff, changing a role, ending or restoring access, set-password links."""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from kapclinic.accounts import mfa, staff
from kapclinic.accounts.models import Invitation, InvitationState, Membership
from kapclinic.accounts.permissions import Action, public, require
from kapclinic.accounts.roles import Role
from kapclinic.accounts.scoping import for_clinic, get_for_user
from kapclinic.platform import text
from kapclinic.platform.referrer import no_referrer
from kapclinic.web.two_factor import SecurityForm

EXISTING_USERNAME = re.compile(r"[\w.@+-]{1,150}")
STAFF_ROLES = [(r.value, r.label) for r in Role if r != Role.PATIENT]


class AddStaffForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="A new account: "
                               + staff.USERNAME_RULE + "; it is saved after the clinic's name "
                               "(shown after adding). An existing account: its username exactly "
                               "as they log in with it")
    existing = forms.BooleanField(required=False, label="Existing account: invite the kapclinic "
                                  "login they already have (typed exactly, with its email); "
                                  "they accept it when they next log in")
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField(required=False, help_text="The set-password link is emailed here "
                                                       "too")
    role = forms.ChoiceField(choices=STAFF_ROLES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, names=("username", "first_name", "last_name", "email"))

    def clean(self):
        data = super().clean()
        name = data.get("username")
        if name is None:
            return data
        if data.get("existing"):
            if not EXISTING_USERNAME.fullmatch(name):
                self.add_error("username", "Type their username exactly as they log in with "
                                           "it (no spaces).")
        else:
            try:
                data["username"] = staff.normalise_username(name)
            except staff.StaffError as exc:
                self.add_error("username", str(exc))
        return data


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=STAFF_ROLES)


def _membership(request: HttpRequest, membership_id: int) -> Membership:
    # a staff membership of this clinic (ended ones included), never a patient's portal login
    return get_for_user(request, Membership.all_objects.select_related("user", "clinic")
                        .exclude(role=Role.PATIENT), membership_id, Action.USER_MANAGE,
                        audit_read=False)


def _issue_link(request: HttpRequest, membership: Membership) -> None:
    """Show the link once, and email it when the user has an address (outbox keeps it out)."""
    try:
        link = staff.issue_password_link(membership=membership,
                                         base_url=request.build_absolute_uri("/"),
                                         by=request.user)
    except staff.StaffError as exc:
        messages.error(request, f"No link: {exc}")
        return
    user, clinic = membership.user, membership.clinic
    days = staff.link_days()
    if user.email:
        from kapclinic.alerts.notifications import send_to_staff

        send_to_staff(clinic.pk, user.email, subject=f"{clinic.name}: set your kapclinic password",
                      body=f"Hello {user.first_name},\n\nSet your password here (the link works "
                           f"once, for {days} days): {link}", secret=link)
    messages.success(request, f"Set-password link for {user.display_name} (shown once; "
                              f"{'also emailed' if user.email else 'give it to them'}): {link}")


@require(Action.USER_MANAGE)
def user_list(request: HttpRequest, add_form: AddStaffForm | None = None,
              status: int = 200) -> HttpResponse:
    clinic = request.membership.clinic
    # patients' portal logins belong to their chart, not to the staff list
    members = list(for_clinic(Membership.all_objects, clinic.pk).exclude(role=Role.PATIENT)
                   .select_related("user")
                   .order_by("ended_at", "user__last_name", "user__username"))
    enrolled = set(mfa.TOTPDevice.objects.filter(user__in=[m.user_id for m in members],
                                                 confirmed=True).values_list("user_id", flat=True))
    invited = (for_clinic(Invitation, clinic.pk).filter(state=InvitationState.PENDING)
               .select_related("user").order_by("created_at"))
    return render(request, "web/users.html", {
        "members": members, "invited": invited, "enrolled": enrolled, "add_form": add_form or AddStaffForm(),
        "security_form": SecurityForm(instance=clinic), "roles": STAFF_ROLES,
        "link_days": staff.link_days(),
    }, status=status)


@require(Action.USER_MANAGE)
@require_POST
def add_user(request: HttpRequest) -> HttpResponse:
    form = AddStaffForm(request.POST)
    if form.is_valid():
        try:
            added = staff.add_staff(clinic=request.membership.clinic, by=request.user,
                                    **form.cleaned_data)
        except staff.StaffError as exc:
            form.add_error(exc.field, str(exc))
        else:
            if added.invitation is not None:
                invitation = added.invitation
                messages.success(request, f"{invitation.user.username} is invited to work here "
                                          f"as {invitation.get_role_display()}. Nothing changes "
                                          "until they log in and accept it; they appear here "
                                          "once they do.")
                return redirect("users")
            user = added.membership.user
            if added.new_user:
                _issue_link(request, added.membership)
            messages.success(request, f"{user.display_name} now works here as "
                                      f"{added.membership.get_role_display()}; their username "
                                      f"is {user.username}.")
            return redirect("users")
    return user_list(request, add_form=form, status=422)


@require(Action.USER_MANAGE)
@require_POST
def change_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _membership(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles; nothing was changed.")
        return redirect("users")
    try:
        staff.change_role(membership=membership, role=form.cleaned_data["role"], by=request.user)
    except staff.StaffError as exc:
        messages.error(request, f"Role not changed: {exc}")
    else:
        messages.success(request, f"{membership.user.display_name} is now "
                                  f"{Role(form.cleaned_data['role']).label}.")
    return redirect("users")


@require(Action.USER_MANAGE)
@require_POST
def end_access(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _membership(request, membership_id)
    try:
        staff.end_access(membership=membership, by=request.user)
    except staff.StaffError as exc:
        messages.error(request, f"Access not ended: {exc}")
    else:
        messages.success(request, f"{membership.user.display_name} can no longer work in "
                                  f"{membership.clinic.name}; their record stays.")
    return redirect("users")


@require(Action.USER_MANAGE)
@require_POST
def restore_access(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _membership(request, membership_id)
    staff.restore_access(membership=membership, by=request.user)
    messages.success(request, f"{membership.user.display_name} works in "
                              f"{membership.clinic.name} again.")
    return redirect("users")


@require(Action.USER_MANAGE)
@require_POST
def new_password_link(request: HttpRequest, membership_id: int) -> HttpResponse:
    _issue_link(request, _membership(request, membership_id))
    return redirect("users")


@require(Action.USER_MANAGE)
@require_POST
def reset_authenticator(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _membership(request, membership_id)
    try:
        removed = staff.reset_authenticator(membership=membership, by=request.user)
    except staff.StaffError as exc:
        messages.error(request, f"Authenticator not reset: {exc}")
        return redirect("users")
    name = membership.user.display_name
    if removed:
        then = ("they set up a new one at their next login" if membership.clinic.require_mfa
                else "they log in with the password alone until they set up a new one")
        messages.success(request, f"{name}'s authenticator was removed: {then}.")
    else:
        messages.error(request, f"{name} has no authenticator to remove.")
    return redirect("users")


class SetPasswordView(auth_views.PasswordResetConfirmView):
    """The page a set-password link opens (Django's reset-token check and validators)."""

    template_name = "web/set_password.html"
    success_url = reverse_lazy("login")
    post_reset_login = False
    token_generator = staff.password_tokens

    def form_valid(self, form):
        # Django's own form_valid saves the form; the action saves and audits instead
        staff.set_password_through_link(
            user=self.user, password=form.cleaned_data["new_password1"],
            by=self.request.user if self.request.user.is_authenticated else None)
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]  # the link is spent
        messages.success(self.request, "Your password is set: log in with it.")
        return HttpResponseRedirect(self.get_success_url())


# Django moves the token into the session and on to a "set-password" placeholder address.
set_password = public(no_referrer(SetPasswordView.as_view()))
