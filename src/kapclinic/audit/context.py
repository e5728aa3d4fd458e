"""Who is acting, from where, in which request: carried to the audit trail.

Context variables rather than a request argument, so the audit trail can be
written from actions functions that never see a request (CLI, worker).
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field


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


# ---- actions: who an action acts as, and whether health records may be written now ----------

# Actor.role when the action's actor was given by ``by=`` outside their own request: the trail
# looks up their role in each entry's clinic.
ROLE_OF_MEMBER = ""


@dataclass
class ActionScope:
    """One running action (kapclinic.audit.actions.action): what it has written so far."""

    name: str
    entries: int = 0      # audit entries written inside it (nested actions' included)
    writes: int = 0       # INSERT/UPDATE/DELETE statements run inside it
    denials: list = field(default_factory=list)  # "denied" events, kept if the action fails


_scopes: contextvars.ContextVar[tuple[ActionScope, ...]] = contextvars.ContextVar(
    "audit_action_scopes", default=())
# Set only by kapclinic.audit.actions.writing_directly (tests and data repair, never views).
_direct: contextvars.ContextVar[str] = contextvars.ContextVar("audit_direct_writes", default="")


def actor_for(by) -> Actor:
    """The actor an action run ``by`` a user (None: the system) is audited as. Inside that
    user's own request nothing changes; from the command line or the worker, the user is named
    (with the command's address and request id) instead of the system."""
    now = _actor.get()
    if by is None:
        if now.user_id is None:  # the system (named by the command), a patient link, anonymous
            return now
        return Actor(None, "system", "system", now.clinic_id, now.client_addr, now.request_id)
    if now.user_id == by.pk:
        return now
    return Actor(by.pk, by.username, ROLE_OF_MEMBER, now.clinic_id, now.client_addr,
                 now.request_id or new_request_id())


@contextlib.contextmanager
def acting(by, name: str) -> Iterator[ActionScope]:
    """Inside an action: entries name ``by`` (see actor_for); health records may be written."""
    scope = ActionScope(name)
    actor_token = _actor.set(actor_for(by))
    scopes_token = _scopes.set((*_scopes.get(), scope))
    try:
        yield scope
    finally:
        _scopes.reset(scopes_token)
        _actor.reset(actor_token)


def running_actions() -> tuple[ActionScope, ...]:
    return _scopes.get()


def may_write_health_records() -> bool:
    return bool(_scopes.get()) or bool(_direct.get())


@contextlib.contextmanager
def direct_writes(reason: str) -> Iterator[None]:
    if not reason.strip():
        raise ValueError("say why health records are written outside an action")
    token = _direct.set(reason)
    try:
        yield
    finally:
        _direct.reset(token)
