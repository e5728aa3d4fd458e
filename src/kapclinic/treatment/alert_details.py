"""What the alerts pages show under an alert a session's reading raised: the reading and a link
to its session. Registered with ``alerts.sources``; one query for every alert on a page."""

from __future__ import annotations

from kapclinic.treatment.models import READING_RECORD, VitalReading

TEMPLATE = "treatment/_alert_reading.html"


def load(alerts) -> dict[int, dict]:
    ids = {a.record_id for a in alerts if a.record_type == READING_RECORD}
    found = VitalReading.objects.select_related("session").in_bulk(ids) if ids else {}
    out = {}
    for alert in alerts:
        reading = found.get(alert.record_id) if alert.record_type == READING_RECORD else None
        if reading is not None:
            out[alert.pk] = {"reading": reading, "session": reading.session}
    return out
