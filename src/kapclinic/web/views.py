"""Pages that are not about one patient: login, home, clinic switch, health check."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapclinic.accounts.middleware import SESSION_KEY
from kapclinic.accounts.permissions import Action, public, require, role_can
from kapclinic.platform import extensions, problems
from kapclinic.web.context import settings_items


class LoginForm(AuthenticationForm):
    # One message whatever was wrong: never reveal whether the username exists.
    error_messages = {
        "invalid_login": "That username and password do not match an account. Try again.",
        "inactive": "That username and password do not match an account. Try again.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autofocus": True})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


login = public(auth_views.LoginView.as_view(template_name="web/login.html",
                                            authentication_form=LoginForm,
                                            redirect_authenticated_user=True))
logout = public(require_POST(auth_views.LogoutView.as_view()))


@require(Action.SELF_VIEW)
def clinic_settings(request: HttpRequest) -> HttpResponse:
    """The clinic's settings pages the role may open, each with what it sets."""
    items = settings_items(request.membership.role)  # none: the page says so (no link leads here)
    return render(request, "web/settings.html",
                  {"items": [(item.label, reverse(item.url_name), item.about) for item in items]})


@require(Action.SELF_VIEW)
def home(request: HttpRequest) -> HttpResponse:
    """Send each role to the page it works from; first, any clinic's invitation to answer."""
    from kapclinic.accounts.staff import pending_invitations

    invitations = list(pending_invitations(request.user))
    if invitations:
        return render(request, "web/home.html", {"invitations": invitations})
    role = request.membership.role
    for landing in extensions.landings():
        if role_can(role, landing.action) and (not landing.roles or role in landing.roles) \
                and (landing.wanted is None or landing.wanted(request.membership)):
            return redirect(landing.url_name)
    return render(request, "web/home.html")


class InvitationAnswer(forms.Form):
    invitation = forms.IntegerField(min_value=1, max_value=2**63 - 1)
    answer = forms.ChoiceField(choices=[("accept", "Accept"), ("decline", "Decline")])


@require(Action.SELF_VIEW)
@require_POST
def answer_invitation(request: HttpRequest) -> HttpResponse:
    """The logged-in person accepts or declines a clinic's invitation to them (only theirs,
    only while unanswered: anything else is a 404)."""
    from kapclinic.accounts import staff

    form = InvitationAnswer(request.POST)
    if not form.is_valid():
        messages.error(request, "Answer the invitation with its Accept or Decline button.")
        return redirect("home")
    invitation = staff.pending_invitations(request.user).filter(
        pk=form.cleaned_data["invitation"]).first()
    if invitation is None:
        raise Http404("No such invitation")
    accept = form.cleaned_data["answer"] == "accept"
    membership = staff.answer_invitation(invitation=invitation, accept=accept, by=request.user)
    if membership is not None:
        messages.success(request, f"You now work at {invitation.clinic.name} as "
                                  f"{membership.get_role_display()}: switch to it with the "
                                  "clinic menu.")
    elif not accept:
        messages.info(request, f"You declined {invitation.clinic.name}'s invitation; nothing "
                               "changed.")
    return redirect("home")


class ClinicChoice(forms.Form):
    # ids beyond the largest the database stores cannot be a clinic (and would not fit a query)
    clinic = forms.IntegerField(min_value=1, max_value=2**63 - 1)


@require(Action.SELF_VIEW)
@require_POST
def switch_clinic(request: HttpRequest) -> HttpResponse:
    form = ClinicChoice(request.POST)
    if form.is_valid() and request.user.memberships.filter(clinic_id=form.cleaned_data["clinic"]).exists():
        request.session[SESSION_KEY] = form.cleaned_data["clinic"]
    return redirect("home")


@public
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _ended_membership(request: HttpRequest):
    """The clinic access that ended most recently, for a logged-in user who has no current
    one (None otherwise): they are told it ended, not just refused."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(request, "membership", None):
        return None
    from kapclinic.accounts.models import Membership

    return (Membership.all_objects.filter(user=user, ended_at__isnull=False)
            .select_related("clinic").order_by("-ended_at").first())


def forbidden(request: HttpRequest, exception=None) -> HttpResponse:
    if problems.is_api(request):  # everything under /api answers problem details
        return problems.problem_response(request, 403, "Forbidden", "You may not do this.")
    ended = _ended_membership(request)
    if ended is not None:
        on = timezone.localtime(ended.ended_at, ended.clinic.zone).date()
        request.page_clinic = ended.clinic  # the footer names the zone that date is in
        return render(request, "web/access_ended.html", {"ended": ended, "ended_on": on},
                      status=403)
    return render(request, "web/403.html", status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent from a page that is too old (or from another site): say what to do."""
    if problems.is_api(request):
        return problems.problem_response(
            request, 403, "CSRF check failed", "A browser-session write needs the X-CSRFToken "
            "header; a script should send 'Authorization: Bearer <token>' instead.")
    return render(request, "web/csrf_failure.html", status=403)


def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    if problems.is_api(request):
        return problems.not_found(request)
    return render(request, "web/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if problems.is_api(request):
        return problems.problem_response(
            request, 500, "Server error", "Something went wrong on our side; quote request id "
            f"{getattr(request, 'request_id', '')} to support.")
    return render(request, "web/500.html", status=500)
