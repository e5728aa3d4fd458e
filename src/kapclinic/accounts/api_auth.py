"""API authentication that also checks the permission, before the body is even parsed.

Endpoints use the same ``@require(Action.X)`` as pages. ``GuardedRouter`` reads
that action at registration and builds the operation's auth from it, so a
caller without the permission gets 403 before validation (never a 422 that
hints at the schema), and an endpoint without ``@require`` cannot be registered.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from ninja import Router
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, HttpBearer

from kapclinic.accounts.permissions import Action, check
from kapclinic.accounts.tokens import authenticate_token


class BearerToken(HttpBearer):
    def __init__(self, action: Action):
        super().__init__()
        self.action = action

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = authenticate_token(request, token)
        if user is None:
            # A wrong, expired or revoked token is a 401 at once: never a fall-through to
            # the browser session's CSRF check ("CSRF check failed" for a bad token).
            raise AuthenticationError
        check(request, self.action)  # PermissionDenied -> 403 problem
        return user


class BrowserSession(APIKeyCookie):
    """The logged-in browser session, with Django's CSRF check on unsafe methods."""

    param_name = "sessionid"

    def __init__(self, action: Action):
        super().__init__(csrf=True)
        self.action = action

    def _get_key(self, request: HttpRequest) -> str | None:
        # No logged-in session: nothing for CSRF to protect, so the answer is 401 (not
        # authenticated), not 403 "CSRF check failed".
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not request.user.is_authenticated:
            return None
        check(request, self.action)
        return request.user


def auth_for(action: Action) -> list:
    return [BearerToken(action), BrowserSession(action)]


class GuardedRouter(Router):
    def add_api_operation(self, path: str, methods: list[str], view_func, **kwargs: Any) -> None:
        action = getattr(view_func, "required_action", None)
        if action is None:
            raise ImproperlyConfigured(
                f"API operation {view_func.__name__} has no @require(Action...) permission"
            )
        kwargs["auth"] = auth_for(action)
        super().add_api_operation(path, methods, view_func, **kwargs)
