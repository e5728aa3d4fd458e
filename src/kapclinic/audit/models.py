"""The append-only, hash-chained audit trail."""

from __future__ import annotations

import pgtrigger
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.signals import class_prepared
from django.dispatch import receiver

from kapclinic.audit import context
from kapclinic.platform import inserts
from kapclinic.privacy import classify


class ImmutableError(Exception):
    """Raised on any attempt to change or delete an append-only record."""


class OutsideActionError(Exception):
    """A health record was written outside an action (kapclinic.audit.actions.action)."""


def require_action(model: type[models.Model]) -> None:
    """Refuse a health record's write outside an action (the managers and save() check it; a
    fixed SQL statement that writes such a table calls it first)."""
    if getattr(model, "written_in_actions", False) and not context.may_write_health_records():
        app = model.__module__.rsplit(".", 1)[0]
        raise OutsideActionError(
            f"A {model._meta.verbose_name} is written only by an action, with its audit entry: "
            f"call the function for it in {app}.actions (tests: factories, the actions, or "
            "kapclinic.audit.actions.writing_directly)")


# On PostgreSQL the database refuses too, for SQL that bypasses the app. Declared on the
# abstract bases (database_guards) and given to every concrete subclass when its class is
# prepared, so a new health table is guarded without anyone listing it.
_REFUSE = ("RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', "
           "TG_OP, TG_TABLE_NAME;")
NEVER_DELETED = pgtrigger.Trigger(name="never_deleted", operation=pgtrigger.Delete,
                                  when=pgtrigger.Before, func=_REFUSE)
NEVER_CHANGED = pgtrigger.Trigger(name="never_changed", operation=pgtrigger.Update,
                                  when=pgtrigger.Before, func=_REFUSE)
# TRUNCATE empties a table without touching a row (``manage flush`` does it): refused too.
NEVER_TRUNCATED = pgtrigger.Trigger(name="never_truncated", operation=pgtrigger.Truncate,
                                    level=pgtrigger.Statement, when=pgtrigger.Before,
                                    func=_REFUSE)


class GuardedQuerySet(models.QuerySet):
    """Health records: never deleted; bulk writes (corrections are conditional updates of
    their paired fields; imports and the demo create in bulk) only inside an action."""

    def update(self, **kwargs):
        require_action(self.model)
        return super().update(**kwargs)

    def bulk_create(self, objs, *args, **kwargs):
        require_action(self.model)
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_insert(self, objs) -> None:
        """``bulk_create`` in a fixed shape (kapclinic.platform.inserts): for the writers that
        store at a bedside monitor's rate."""
        require_action(self.model)
        inserts.insert(objs, using=self.db)

    def delete(self):
        raise ImmutableError(f"{self.model.__name__} records are never deleted; mark them "
                             "entered in error, withdrawn or acknowledged instead")

    _raw_delete = delete


NoDeleteQuerySet = GuardedQuerySet  # its former name


class AppendOnlyQuerySet(GuardedQuerySet):
    def update(self, **kwargs):
        raise ImmutableError(f"{self.model.__name__} entries cannot be changed")

    def delete(self):
        raise ImmutableError(f"{self.model.__name__} entries cannot be deleted")

    _raw_delete = delete


class HealthRecord(models.Model):
    """Health information: never deleted, written (created or changed) only by an action,
    which writes its audit entry in the same transaction."""

    objects = GuardedQuerySet.as_manager()
    written_in_actions = True
    database_guards: tuple[pgtrigger.Trigger, ...] = (NEVER_DELETED, NEVER_TRUNCATED)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        require_action(type(self))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError(f"A {self._meta.verbose_name} is never deleted")


class AppendOnlyRecord(HealthRecord):
    """A fact written once: never changed, never deleted (decisions, sign-offs, audit...)."""

    objects = AppendOnlyQuerySet.as_manager()
    database_guards = (NEVER_DELETED, NEVER_TRUNCATED, NEVER_CHANGED)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError(f"A {self._meta.verbose_name} cannot be changed once saved")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError(f"A {self._meta.verbose_name} cannot be deleted")


class CorrectableRecord(HealthRecord):
    """Health information that is never deleted nor edited as a whole; it is corrected only by
    a conditional update of its paired who/when fields (entered in error, withdrawn,
    acknowledged), made in an ``actions`` function with its audit entry.

    On PostgreSQL the database refuses an UPDATE that changes any other column: a table says
    which columns its correction writes (``correction_fields``) and, if a row has state that
    legitimately moves on (an alert is acknowledged, then escalated), those columns too
    (``mutable_fields``). Every other column keeps what was first written."""

    correction_fields: tuple[str, ...] = ("entered_in_error_at", "entered_in_error_by",
                                          "entered_in_error_reason")
    mutable_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError(f"A {self._meta.verbose_name} is not edited: record a "
                                 "correction (entered in error, withdrawal) instead")
        super().save(*args, **kwargs)


def _only_corrections_change(model: type[CorrectableRecord]) -> pgtrigger.Trigger:
    """Refuse an UPDATE that changes a column other than the model's correction and mutable
    columns (all of them must exist: a misspelt name would silently leave a column open)."""
    changeable = [*model.correction_fields, *model.mutable_fields]
    names = {f.name for f in model._meta.concrete_fields}
    unknown = sorted(set(changeable) - names)
    if unknown:
        raise ImproperlyConfigured(f"{model._meta.label} names columns it does not have as "
                                   f"correction_fields or mutable_fields: {', '.join(unknown)}")
    return pgtrigger.Trigger(
        name="only_corrections_change", operation=pgtrigger.Update, when=pgtrigger.Before,
        condition=pgtrigger.AnyChange(exclude=changeable),
        func="RAISE EXCEPTION 'kapclinic: UPDATE on % is refused: only a correction (%) may "
             f"change a row', TG_TABLE_NAME, '{', '.join(changeable)}';")


def _guards_for(model: type[HealthRecord]) -> list[pgtrigger.Trigger]:
    guards = list(model.database_guards)
    if issubclass(model, CorrectableRecord):
        guards.append(_only_corrections_change(model))
    return guards


@receiver(class_prepared)
def _give_database_guards(sender: type[models.Model], **kwargs) -> None:
    """Every concrete HealthRecord gets its base's triggers, whatever its own Meta says."""
    if not issubclass(sender, HealthRecord) or sender._meta.abstract or sender._meta.proxy:
        return
    guards = _guards_for(sender)
    names = {guard.name for guard in guards}
    own = [t for t in getattr(sender._meta, "triggers", []) if t.name not in names]
    triggers = [*guards, *own]
    sender._meta.triggers = triggers
    sender._meta.original_attrs["triggers"] = triggers  # what migrations read


# audit actions that change nothing (a page read, a list, a refusal)
UNCHANGING_ACTIONS = ("read", "list", "denied")


class AuditEntry(AppendOnlyRecord):
    """One thing somebody did. ``hash`` = SHA-256(prev_hash + canonical form of this entry),
    or HMAC-SHA256 under the audit key (kept outside the database) when ``keyed``."""

    written_in_actions = False  # logins, reads and refusals are audited outside actions too

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
        # a patient's last change at once (a monitor listener checks its memory by it); reads,
        # lists and refusals change nothing (UNCHANGING_ACTIONS)
        indexes = [models.Index(fields=["patient_id", "seq"], name="audit_patient_last_change",
                                condition=~models.Q(action__in=UNCHANGING_ACTIONS))]

    def __str__(self) -> str:
        return f"#{self.seq} {self.actor_username} {self.action} {self.object_type} {self.object_id}"
