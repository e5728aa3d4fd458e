"""API tokens: issuing them, and authenticating a request that carries one."""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from kapclinic.accounts.middleware import activate_membership, membership_for
from kapclinic.accounts.models import ApiToken, Membership, TokenScope, User, hash_token
from kapclinic.accounts.permissions import Action, deny, role_can
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


def revoke_token(token: ApiToken) -> bool:
    """Revoke ``token`` once (a conditional UPDATE: of two revocations one does it) and audit
    it in every clinic of its user. It is refused from the next request on: every request
    re-reads the token. False if it was already revoked."""
    with transaction.atomic():
        done = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now())
        if done:
            trail.record("token_revoked", object_type="api_token", object_id=token.pk,
                         account_of=token.user_id,
                         detail={"user": token.user.username, "name": token.name})
    return bool(done)


def visible_tokens(user: User, membership: Membership | None) -> QuerySet[ApiToken]:
    """The tokens ``user`` may see and revoke: their own and, for a clinic admin, those of
    the active clinic's current members whose account opens nothing else (the rule of
    ``staff.only_here``, as for password links). Someone who also works (or worked) in another
    clinic is not this admin's to watch: ending their access here already stops their tokens
    here, and their tokens and their use belong to every clinic they work in. Newest first;
    never the secret (it is not stored)."""
    mine = Q(user=user)
    if membership is not None and role_can(membership.role, Action.USER_MANAGE):
        clinic_id = membership.clinic_id
        elsewhere = Membership.all_objects.exclude(clinic_id=clinic_id).values("user_id")
        mine |= (Q(user_id__in=Membership.objects.filter(clinic_id=clinic_id).values("user_id"))
                 & ~Q(user_id__in=elsewhere)
                 & Q(user__is_superuser=False, user__is_staff=False))
    return ApiToken.objects.select_related("user").filter(mine).order_by("-created_at", "-id")


def token_for(request: HttpRequest, token_id: int) -> ApiToken:
    """A token the request's user may revoke, or Http404 and an audited attempt (also in the
    clinics of the token's owner, when it has one) whatever the reason."""
    token = visible_tokens(request.user, request.membership).filter(  # type: ignore[attr-defined]
        pk=token_id).first()
    if token is None:
        owner = ApiToken.objects.filter(pk=token_id).values_list("user_id", flat=True).first()
        events = [trail.Event("denied", "api_token", token_id, detail={
            "reason": "not one of yours or your clinic's, or does not exist",
            "path": request.path})]
        if owner is not None and owner != request.user.pk:
            events.append(trail.Event("denied", "api_token", token_id, account_of=owner,
                                      detail={"reason": "asked for by someone who may not",
                                              "path": request.path}))
        trail.record_many(events)
        raise Http404("No such API token")
    return token


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
