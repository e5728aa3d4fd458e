"""The interop app's writes to its own settings, each with its audit entry (the exports' writes
are in jobs.py and bulk.py; imports go through the patients' and measures' actions)."""

from __future__ import annotations

from django.db.models import F

from kapclinic.audit import trail
from kapclinic.audit.actions import action

from .models import InteropSettings

FIELDS = ("export_hours", "k_anonymity", "research_dates", "date_shift_days")


class Conflict(Exception):
    """The settings were saved by someone else since the page was opened: nothing was written."""


@action
def save_export_settings(*, clinic_id: int, values: dict, expected_version: int, by) -> InteropSettings:
    """Compare-and-swap on ``version``; the audit entry names what changed from and to. A save
    that changes nothing (a first visit's defaults, a double click) writes nothing."""
    before = (InteropSettings.objects.filter(clinic_id=clinic_id).first()
              or InteropSettings(clinic_id=clinic_id))  # the labelled defaults, unsaved
    changes = {name: [getattr(before, name), values[name]] for name in FIELDS
               if getattr(before, name) != values[name]}
    if not changes:
        return before
    if before.pk is None:  # the clinic's first save: its row at version 1, as the page had it
        before, _ = InteropSettings.objects.get_or_create(clinic_id=clinic_id)
    if not InteropSettings.objects.filter(pk=before.pk, version=expected_version).update(
            **values, version=F("version") + 1):
        raise Conflict
    trail.record("update", object_type="interop_settings", object_id=before.pk, clinic_id=clinic_id,
                 detail={"changes": changes, "version": expected_version + 1})
    return InteropSettings.objects.get(pk=before.pk)
