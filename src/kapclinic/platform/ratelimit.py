"""Rate limits for expensive requests, per user and per client address.

A limit is a setting, ``KAPCLINIC_RATE_LIMITS[scope]``: at most ``per_user`` requests
per user (or per ``subject``, e.g. the email address a reset link is asked for) and
``per_address`` per client address in each window of ``seconds``. Counts
live in the database (``RateCounter``) and change only by conditional UPDATE inside a
transaction, so both gunicorn workers see the same count and two simultaneous requests
cannot both take the last place. Every attempt counts, refused or not, so hammering an
endpoint keeps it closed until the window ends.

django-ratelimit was considered: it counts in Django's cache and itself refuses the
local-memory cache (not shared between workers) and the database cache (no atomic
increment), leaving memcached or Redis, services this project does not run.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse

from kapclinic.platform import client_ip
from kapclinic.platform.models import RateCounter

_clock = time.time  # tests move the clock


@dataclass(frozen=True)
class Limit:
    per_user: int
    per_address: int
    seconds: int
    what: str  # "population simulations": the refusal names what was limited


class RateLimited(Exception):
    """Over a limit: ``retry_after`` whole seconds until the window ends."""

    def __init__(self, limit: Limit, by_address: bool, retry_after: int) -> None:
        self.limit, self.by_address, self.retry_after = limit, by_address, retry_after
        allowed = limit.per_address if by_address else limit.per_user
        who = "from one network address" if by_address else "per user"
        window = "a minute" if limit.seconds == 60 else f"in {limit.seconds} seconds"
        super().__init__(f"Too many {limit.what}: at most {allowed} {window} {who}. "
                         f"Try again in {retry_after} s.")


def limit_for(scope: str) -> Limit:
    conf = settings.KAPCLINIC_RATE_LIMITS[scope]
    return Limit(int(conf["per_user"]), int(conf["per_address"]), int(conf["seconds"]),
                 str(conf["what"]))


def client_address(request: HttpRequest) -> str:
    """The person's own address as login lockout counts it (client_ip.py: REMOTE_ADDR, or
    behind KAPCLINIC_TRUSTED_PROXIES the right-most untrusted X-Forwarded-For hop)."""
    return client_ip.client_address(request) or "unknown"


def hit(scope: str, request: HttpRequest, *, subject: str | None = None) -> None:
    """Count one attempt at ``scope`` for the user and the address; raise ``RateLimited``.
    With ``subject`` (what an anonymous request is about, such as an email address), that is
    counted against ``per_user`` as well."""
    limit = limit_for(scope)
    now = _clock()
    window = int(now // limit.seconds) * limit.seconds
    retry_after = max(1, math.ceil(window + limit.seconds - now))
    callers = [(f"address:{client_address(request)}", limit.per_address, True)]
    user = getattr(request, "auth", None) or getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        callers.insert(0, (f"user:{user.pk}", limit.per_user, False))
    if subject is not None:
        callers.append((f"subject:{subject}", limit.per_user, False))
    for caller, allowed, by_address in callers:
        if _count(f"{scope}:{caller}", window) > allowed:
            raise RateLimited(limit, by_address, retry_after)


def _count(name: str, window: int) -> int:
    """Add one to the caller's count in ``window`` (starting it afresh if older); the count."""
    key = hashlib.sha256(name.encode()).hexdigest()
    rows = RateCounter.objects.filter(key=key)
    with transaction.atomic():
        if (not rows.filter(window_start=window).update(count=F("count") + 1)
                and not rows.filter(window_start__lt=window).update(window_start=window,
                                                                    count=1)):
            try:
                with transaction.atomic():
                    RateCounter.objects.create(key=key, window_start=window, count=1)
            except IntegrityError:  # another worker created it first
                rows.filter(window_start=window).update(count=F("count") + 1)
        return rows.values_list("count", flat=True).get()


def problem(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    """429 as RFC 9457 problem details, with Retry-After."""
    body = {"type": "about:blank", "title": "Too many requests", "status": 429,
            "detail": str(exc), "instance": request.path}
    response = HttpResponse(json.dumps(body), status=429,
                            content_type="application/problem+json")
    response["Retry-After"] = str(exc.retry_after)
    return response
