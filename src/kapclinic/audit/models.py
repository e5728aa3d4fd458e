"""The append-only, hash-chained audit trail."""

from __future__ import annotations

from django.db import models

from kapclinic.privacy import classify


class ImmutableError(Exception):
    """Raised on any attempt to change or delete an append-only record."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableError(f"{self.model.__name__} entries cannot be changed")

    def delete(self):
        raise ImmutableError(f"{self.model.__name__} entries cannot be deleted")

    _raw_delete = delete


class NoDeleteQuerySet(models.QuerySet):
    """Health records: corrections are conditional updates of their paired fields; never delete."""

    def delete(self):
        raise ImmutableError(f"{self.model.__name__} records are never deleted; mark them "
                             "entered in error, withdrawn or acknowledged instead")

    _raw_delete = delete


class AppendOnlyRecord(models.Model):
    """A fact written once: never changed, never deleted (decisions, sign-offs, audit...)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError(f"A {self._meta.verbose_name} cannot be changed once saved")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError(f"A {self._meta.verbose_name} cannot be deleted")


class CorrectableRecord(models.Model):
    """Health information that is never deleted nor edited as a whole; it is corrected only by
    a conditional update of its paired who/when fields (entered in error, withdrawn,
    acknowledged), made in an ``actions`` function with its audit entry."""

    objects = NoDeleteQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError(f"A {self._meta.verbose_name} is not edited: record a "
                                 "correction (entered in error, withdrawal) instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError(f"A {self._meta.verbose_name} is never deleted")


class AuditEntry(AppendOnlyRecord):
    """One thing somebody did. ``hash`` = SHA-256(prev_hash + canonical form of this entry),
    or HMAC-SHA256 under the audit key (kept outside the database) when ``keyed``."""

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, db_index=True)
    actor_username = models.CharField(max_length=150)
    role = models.CharField(max_length=20)
    clinic_id = models.BigIntegerField(null=True, db_index=True)
    # Plain ids, not foreign keys: an attempt on a patient that does not exist is audited too.
    patient_id = models.BigIntegerField(null=True, db_index=True)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=20, db_index=True)
    client_addr = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    detail_json = models.TextField(default="{}")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # Written with the audit key (chain.entry_hash); entries from before the key was set
    # stay verifiable as plain SHA-256. Once one entry is keyed, every later one must be.
    keyed = models.BooleanField(default=False, db_default=False)

    clinic_path = "clinic_id"  # a plain column: the trail outlives any row it names
    # detail_json may quote changed values
    FIELD_CLASSES = classify(
        direct_identifier=("actor_username", "client_addr"),
        date=("at",),
        free_text=("detail_json",),
        coded=("role", "object_type", "action"),
        none=("id", "seq", "actor_id", "clinic_id", "patient_id", "object_id", "request_id", "prev_hash",
            "hash", "keyed"),
    )

    class Meta:
        ordering = ["-seq"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.seq} {self.actor_username} {self.action} {self.object_type} {self.object_id}"
