"""What the main menu's Alerts link counts."""

from __future__ import annotations

from kapclinic.accounts.scoping import for_clinic
from kapclinic.alerts.models import Alert


def open_alert_count(membership) -> int:
    """The clinic's alerts nobody has acknowledged yet (not those raised in error): one
    COUNT query."""
    return for_clinic(Alert.objects.open(), membership.clinic_id).count()
