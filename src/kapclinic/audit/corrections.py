"""Correcting health information without losing it: mark a record entered in error."""

from __future__ import annotations

from django.utils import timezone

from kapclinic.audit import trail


def mark_entered_in_error(record, *, reason: str, by, object_type: str, what: str) -> bool:
    """Mark ``record`` (a CorrectableRecord with entered_in_error_at/_by/_reason and a
    patient) entered in error, once: a conditional UPDATE, so of two people doing it at the
    same moment one wins and the other gets False. Writes the audit entry. Call it inside the
    transaction that does what must follow (outcomes recomputed); ``what`` names the record
    in the message for a missing reason."""
    if not reason.strip():
        raise ValueError(f"reason: say why the {what} was entered in error.")
    done = type(record).objects.filter(pk=record.pk, entered_in_error_at__isnull=True).update(
        entered_in_error_at=timezone.now(), entered_in_error_by=by,
        entered_in_error_reason=reason.strip())
    if done:
        trail.record("update", object_type=object_type, object_id=record.pk,
                     patient_id=record.patient_id, detail={"entered_in_error": True})
    return bool(done)
