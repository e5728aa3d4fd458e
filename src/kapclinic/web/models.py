"""The web shell's own table: request counters for rate limits (ratelimit.py)."""

from __future__ import annotations

from django.db import models


class RateCounter(models.Model):
    """How many requests one caller made in the current window of one rate limit.

    ``key`` is a SHA-256 of the limit's scope and the caller (a user id or a client
    address), so no address is stored in the clear. One row per key, reused window after
    window; every change is a conditional UPDATE, so the count holds across workers.
    """

    key = models.CharField(max_length=64, unique=True)
    window_start = models.BigIntegerField()  # Unix seconds
    count = models.PositiveIntegerField(default=0)

    IDENTIFYING_FIELDS = ("key",)  # derived from a client address

    def __str__(self) -> str:
        return f"rate counter {self.key[:8]}: {self.count} since {self.window_start}"
