"""The platform's tables: request counters for rate limits (ratelimit.py) and the first
answers to idempotent writes (idempotency.py).

Both began in the web app and keep its table names (``db_table``), so moving them here
moved no row (migrations/0001_initial.py)."""

from __future__ import annotations

from django.db import models

from kapclinic.privacy import classify


class RateCounter(models.Model):
    """How many requests one caller made in the current window of one rate limit.

    ``key`` is a SHA-256 of the limit's scope and the caller (a user id or a client
    address), so no address is stored in the clear. One row per key, reused window after
    window; every change is a conditional UPDATE, so the count holds across workers.
    """

    key = models.CharField(max_length=64, unique=True)
    window_start = models.BigIntegerField()  # Unix seconds
    count = models.PositiveIntegerField(default=0)

    clinic_path = None
    global_reason = "a hashed caller key and a count; no clinic data"
    # key is derived from a client address or a username
    FIELD_CLASSES = classify(
        direct_identifier=("key",),
        date=("window_start",),
        none=("id", "count"),
    )

    class Meta:
        db_table = "web_ratecounter"

    def __str__(self) -> str:
        return f"rate counter {self.key[:8]}: {self.count} since {self.window_start}"


class IdempotencyRecord(models.Model):
    """One write asked for with a key (an API ``Idempotency-Key`` or a page's one-time form
    token) and the first answer to it, kept for a bounded time (idempotency.py).

    The unique (scope, key) constraint decides which of two concurrent repeats writes: the
    one whose row goes in first; the other finds it and gets the first answer. ``status``
    is empty while the first is still running.
    """

    class Kind(models.TextChoices):
        API = "api", "API Idempotency-Key"
        FORM = "form", "Page form token"

    scope = models.CharField(max_length=40)  # "user:<id>" or "anonymous"
    key = models.CharField(max_length=255)
    kind = models.CharField(max_length=4, choices=Kind.choices)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path, clinic, body
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=2000, blank=True)
    body = models.BinaryField(blank=True, default=b"")

    clinic_path = None
    global_reason = ("keyed by the user who asked; the answer it replays was scoped when it "
                     "was first made")
    # body and location copy the first answer, which may name a patient
    FIELD_CLASSES = classify(
        date=("created_at", "expires_at"),
        free_text=("location", "body"),
        coded=("kind", "method", "status", "content_type"),
        none=("id", "scope", "key", "path", "fingerprint"),
    )

    class Meta:
        db_table = "web_idempotencyrecord"
        constraints = [models.UniqueConstraint(fields=["scope", "key"],
                                               name="one_record_per_idempotency_key")]
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.kind} key for {self.method} {self.path[:60]}"
