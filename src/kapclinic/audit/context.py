"""Who is acting, from where, in which request: carried to the audit trail.

Context variables rather than a request argument, so the audit trail can be
written from actions functions that never see a request (CLI, worker).
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    role: str
    clinic_id: int | None
    client_addr: str
    request_id: str


SYSTEM = Actor(None, "system", "system", None, "local", "")
_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar("audit_actor", default=SYSTEM)
_request: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar(
    "audit_request", default=("local", "")
)


def new_request_id() -> str:
    return uuid.uuid4().hex


def start_request(client_addr: str, request_id: str) -> contextvars.Token:
    _actor.set(SYSTEM)
    return _request.set((client_addr, request_id))


def end_request(token: contextvars.Token) -> None:
    _request.reset(token)
    _actor.set(SYSTEM)


def set_actor(user, membership) -> None:
    """Record the logged-in user and their active clinic role for this request."""
    client_addr, request_id = _request.get()
    if user is None or not user.is_authenticated:
        _actor.set(Actor(None, "anonymous", "anonymous", None, client_addr, request_id))
        return
    _actor.set(Actor(
        user.pk, user.username,
        membership.role if membership else "none",
        membership.clinic_id if membership else None,
        client_addr, request_id,
    ))


def set_link_actor(link_id: int, clinic_id: int) -> None:
    """A patient acting through a single-use link: no login, the link is who."""
    client_addr, request_id = _request.get()
    _actor.set(Actor(None, f"patient-link-{link_id}", "patient", clinic_id, client_addr,
                     request_id))


def set_system_actor(username: str = "system", clinic_id: int | None = None) -> None:
    """For command-line work: entries name the command, not a person."""
    _actor.set(Actor(None, username, "system", clinic_id, "cli", new_request_id()))


def current() -> Actor:
    return _actor.get()
