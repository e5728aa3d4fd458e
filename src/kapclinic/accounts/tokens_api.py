"""API: the caller's tokens (and, for a clinic admin, the clinic's members'), and revoking one."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpResponse
from ninja import Schema

from kapclinic.accounts.api_auth import GuardedRouter
from kapclinic.accounts.permissions import Action, require
from kapclinic.accounts.tokens import revoke_token, token_for, visible_tokens

router = GuardedRouter(tags=["tokens"])


class TokenOut(Schema):
    id: int
    username: str
    name: str
    scope: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@router.get("", response=list[TokenOut])
@require(Action.SELF_VIEW)
def list_tokens(request):
    """Newest first; a token's secret is never shown again after it was made."""
    return [TokenOut(id=t.pk, username=t.user.username, name=t.name, scope=t.scope,
                     created_at=t.created_at, expires_at=t.expires_at,
                     last_used_at=t.last_used_at, revoked_at=t.revoked_at)
            for t in visible_tokens(request.user, request.membership)]


@router.delete("/{token_id}", response={204: None})
@require(Action.TOKEN_REVOKE)
def delete_token(request, token_id: int):
    """Revoke a token (audited): refused from the next request on. Revoking a revoked one
    again changes nothing. Someone else's token (another clinic's user's) is a 404."""
    revoke_token(token_for(request, token_id))
    return HttpResponse(status=204)
