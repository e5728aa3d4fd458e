"""Every write happens once, however often it is sent
(docs/adr/0005-idempotent-writes-and-bounded-inputs.md).

A double click, a network retry or a client's retry sends the same write again. Two ways
to say "this is the same one", one rule behind both:

**API** (every POST, PATCH and DELETE under /api/v1; ``install(api)`` does it for all of
them, present and future): the client sends ``Idempotency-Key: <any 1-255 visible ASCII
characters>``. The first request with a key runs and its answer (status and body) is kept
for ``KEEP`` (24 h). A repeat with the same key, user, method, path, clinic and body gets
that first answer again with ``Idempotent-Replayed: true``; the same key with anything
else different is a 422; a repeat while the first is still running is a 409 (retry in a
moment). Only successful answers (below 400) are kept: after a refusal nothing was
written, and the client may correct the request and send it again with the same key.

**Pages**: a form carries a one-time token (``{% load idempotency %}{% form_token %}`` in
the template, ``@one_time_form`` on the view). The first POST with a token consumes it; a
repeat POST with a consumed token is not run again: it gets the first answer (the same
redirect, with a note that it was saved once, or the same page).

The database decides the winner of two concurrent repeats: the record's (scope, key) is
unique, so exactly one insert succeeds and only that request runs the write. Expired
records are deleted by the worker (``purge_expired``); a record left unfinished by a
crashed process is taken over after ``PENDING_STALE``.

Later features need nothing for the API, and two lines for a page (the decorator and
the template tag).
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone

from kapclinic.platform.models import IdempotencyRecord

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
FORM_FIELD = "form_token"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# [policy: labelled default] how long a key is remembered.
KEEP = timedelta(hours=24)
# A first request still unfinished after this long is taken to have died with its process.
PENDING_STALE = timedelta(minutes=2)
# How long a page's repeat POST waits for the first one to finish before saying so.
WAIT_SECONDS = 5.0
MAX_BODY_KEPT = 1024 * 1024  # bytes of a first answer kept for replay

_API_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


class KeyReused(Exception):
    """The key was already used for a different request (another body, method or path)."""


class StillRunning(Exception):
    """The first request with this key has not finished yet."""


class BadKey(ValueError):
    """The Idempotency-Key header is not 1-255 visible ASCII characters."""


def _scope(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return "anonymous"  # a page without login (a patient link): the token alone, 192 bits


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def claim(*, scope: str, key: str, kind: str, method: str, path: str,
          fingerprint: str) -> tuple[IdempotencyRecord, bool]:
    """Insert the record for this key; (record, True) if this request won and must do the
    write, (the earlier record, False) otherwise. An expired record, or one abandoned
    unfinished, is replaced (compare-and-swap delete, then insert again)."""
    for _ in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    scope=scope, key=key, kind=kind, method=method, path=path[:500],
                    fingerprint=fingerprint, created_at=now, expires_at=now + KEEP)
            return record, True
        except IntegrityError:
            earlier = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
            if earlier is None:
                continue  # deleted meanwhile: try again
            abandoned = earlier.status is None and earlier.created_at < now - PENDING_STALE
            if earlier.expires_at <= now or abandoned:
                IdempotencyRecord.objects.filter(pk=earlier.pk,
                                                 created_at=earlier.created_at).delete()
                continue
            return earlier, False
    raise StillRunning


def finish(record: IdempotencyRecord, response: HttpResponse) -> None:
    """Keep a successful first answer for repeats; forget the key after a refusal (nothing
    was written, so the corrected request may use it again)."""
    status = response.status_code
    body = getattr(response, "content", b"") if not getattr(response, "streaming", False) else b""
    if status >= 400 or len(body) > MAX_BODY_KEPT:
        if status >= 400:
            release(record)
            return
        body = b""
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status=status, body=body, content_type=response.get("Content-Type", "")[:200],
        location=response.get("Location", "")[:2000])


def release(record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk, status__isnull=True).delete()


def replay(record: IdempotencyRecord) -> HttpResponse:
    """The first answer again, marked as a replay."""
    if record.location and 300 <= record.status < 400:
        response: HttpResponse = HttpResponseRedirect(record.location)
        response.status_code = record.status
    else:
        response = HttpResponse(bytes(record.body), status=record.status,
                                content_type=record.content_type or None)
    response[REPLAYED_HEADER] = "true"
    return response


def purge_expired(now=None) -> int:
    """Forget keys older than KEEP (the worker runs this each pass)."""
    return IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()[0]


# ---- the API: one Idempotency-Key rule for every write ------------------------------------

def _api_operation(view_func: Callable[..., Any]) -> Callable[..., Any]:
    """Runs after authentication and validation: the user is known, the body is valid."""

    @functools.wraps(view_func)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(KEY_HEADER)
        if request.method not in WRITE_METHODS or key is None:
            return view_func(request, *args, **kwargs)
        if not _API_KEY.fullmatch(key):
            raise BadKey(f"{KEY_HEADER} must be 1 to 255 visible ASCII characters "
                         "(e.g. a UUID)")
        membership = getattr(request, "membership", None)
        fingerprint = _digest(request.method, request.get_full_path(),
                              str(getattr(membership, "clinic_id", "")), request.body)
        record, mine = claim(scope=_scope(request), key=key, kind=IdempotencyRecord.Kind.API,
                             method=request.method, path=request.get_full_path(),
                             fingerprint=fingerprint)
        if not mine:
            if record.fingerprint != fingerprint:
                raise KeyReused(
                    f"This {KEY_HEADER} was used for a different request (another body, "
                    f"method, path or clinic) in the last {int(KEEP.total_seconds() // 3600)} "
                    "hours: send a new key with a new request.")
            if record.status is None:
                raise StillRunning
            return replay(record)
        request._idempotency_record = record  # type: ignore[attr-defined]
        return view_func(request, *args, **kwargs)

    wrapped.idempotent = True  # type: ignore[attr-defined]  (the sweep test looks for it)
    return wrapped


def _api_run(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Around the whole operation: keeps the final answer (after serialisation and error
    handling) of a request that claimed a key."""

    @functools.wraps(run)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response = run(request, *args, **kwargs)
        except BaseException:
            record = getattr(request, "_idempotency_record", None)
            if record is not None:
                release(record)
            raise
        record = getattr(request, "_idempotency_record", None)
        if record is not None:
            request._idempotency_record = None  # type: ignore[attr-defined]
            finish(record, response)
        return response

    return wrapped


def install(api) -> None:
    """Apply the rule to every operation of a django-ninja API (call before its urls)."""
    api.add_decorator(_api_run, mode="view")
    api.add_decorator(_api_operation, mode="operation")


# ---- pages: a one-time token per form -----------------------------------------------------

def new_form_token() -> str:
    return secrets.token_urlsafe(24)


def _wait_for(record: IdempotencyRecord) -> IdempotencyRecord | None:
    """The record once its first request finished; None if that request was refused (the
    token was forgotten: this one may run). Raises StillRunning after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        current = IdempotencyRecord.objects.filter(pk=record.pk).first()
        if current is None or current.status is not None:
            return current
        if time.monotonic() >= deadline:
            raise StillRunning
        time.sleep(0.2)


def one_time_form(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A POST carrying a form token runs once; a repeat gets the first answer.

    Put it below ``@require`` (the permission is checked first). A POST without a token
    (a script, a page from before tokens) runs as before."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = request.POST.get(FORM_FIELD, "") if request.method == "POST" else ""
        if not _FORM_TOKEN.fullmatch(token):
            return view(request, *args, **kwargs)
        try:
            record, mine = claim(scope=_scope(request), key=token,
                                 kind=IdempotencyRecord.Kind.FORM, method="POST",
                                 path=request.path, fingerprint=_digest("POST", request.path))
            first = None if mine else _wait_for(record)
        except StillRunning:
            return render(request, "platform/still_saving.html", status=409)
        if not mine:
            if first is None:  # the first was refused and nothing written: this one runs
                return wrapped(request, *args, **kwargs)
            if first.location:
                messages.info(request, "That form was already sent: it was saved once, "
                                       "not twice.")
            return replay(first)
        try:
            response = view(request, *args, **kwargs)
        except BaseException:
            release(record)
            raise
        finish(record, response)
        return response

    return wrapped
