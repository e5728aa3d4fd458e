"""The API tokens page: everyone sees and revokes their own; a clinic admin also the
clinic's members'. A token's secret is shown once, when made, and never again."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kapclinic.accounts.permissions import Action, require, role_can
from kapclinic.accounts.tokens import revoke_token, token_for, visible_tokens


@require(Action.SELF_VIEW)
def token_list(request: HttpRequest) -> HttpResponse:
    tokens = list(visible_tokens(request.user, request.membership))
    return render(request, "web/tokens.html", {
        "own": [t for t in tokens if t.user_id == request.user.pk],
        "members": [t for t in tokens if t.user_id != request.user.pk],
        "is_admin": role_can(request.membership.role, Action.USER_MANAGE),
    })


class RevokeForm(forms.Form):
    token = forms.IntegerField(min_value=1, max_value=2**63 - 1)


@require(Action.TOKEN_REVOKE)
@require_POST
def token_revoke(request: HttpRequest) -> HttpResponse:
    form = RevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a token to revoke with its Revoke button.")
        return redirect("tokens")
    token = token_for(request, form.cleaned_data["token"])
    whose = "Your" if token.user_id == request.user.pk else f"{token.user.display_name}'s"
    if revoke_token(token):
        messages.success(request, f"{whose} token “{token.name}” is revoked: anything using it "
                                  "is refused from now on.")
    else:
        messages.info(request, f"{whose} token “{token.name}” was already revoked.")
    return redirect("tokens")
