"""API tokens: issuing them, and authenticating a request that carries one."""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from kapclinic.accounts.middleware import activate_membership, membership_for
from kapclinic.accounts.models import ApiToken, TokenScope, User, hash_token
from kapclinic.accounts.permissions import deny
from kapclinic.audit import trail

CLINIC_HEADER = "X-Kapclinic-Clinic"


def issue_token(*, user: User, name: str, scope: str = TokenScope.READ,
                days: int | None = None) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is shown once and never stored."""
    if scope not in TokenScope.values:
        raise ValueError(f"scope must be one of {', '.join(TokenScope.values)}")
    days = days or settings.KAPCLINIC_TOKEN_DAYS
    if days < 1 or days > 366:
        raise ValueError("a token lives between 1 and 366 days")
    secret = ApiToken.new_secret()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, token_hash=hash_token(secret), scope=scope,
            expires_at=timezone.now() + timedelta(days=days),
        )
        trail.record("token_created", object_type="api_token", object_id=token.pk,
                     account_of=user.pk,
                     detail={"user": user.username, "scope": scope, "days": days})
    return token, secret


def revoke_token(token: ApiToken) -> None:
    with transaction.atomic():
        if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
                revoked_at=timezone.now()):
            trail.record("update", object_type="api_token", object_id=token.pk,
                         detail={"revoked": True})


def authenticate_token(request: HttpRequest, secret: str) -> User | None:
    token = (ApiToken.objects.select_related("user")
             .filter(token_hash=hash_token(secret)).first())
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    request.user = token.user
    request.api_token = token  # type: ignore[attr-defined]
    wanted = request.headers.get(CLINIC_HEADER)
    if wanted is None:
        membership = membership_for(token.user, None)
    else:
        membership = None
        if re.fullmatch(r"[0-9]{1,12}", wanted):
            membership = token.user.memberships.select_related("clinic").filter(
                clinic_id=int(wanted)).first()
        if membership is None:
            activate_membership(request, membership_for(token.user, None))
            deny(request, f"clinic {wanted}"[:64], "not a member of the clinic named")
            if not re.fullmatch(r"[0-9]{1,12}", wanted):
                raise PermissionDenied(f"{CLINIC_HEADER} must be a clinic id (a number)")
            raise PermissionDenied(f"You are not a member of clinic {wanted}")
    activate_membership(request, membership)
    return token.user
