"""On the chart's timeline an acknowledged alert reads as dealt with, not as a second alarm."""

from __future__ import annotations

import re

from django.contrib.staticfiles import finders

from kapclinic.alerts.models import Alert
from tests.conftest import login

PHQ9_ITEM9 = {**{f"item_{n}": "0" for n in range(1, 10)}, "item_9": "1"}


def css_rule(selector: str) -> str:
    with open(finders.find("kapclinic/app.css"), encoding="utf-8") as css:
        found = re.search(r"(?:^|[},])\s*" + re.escape(selector) + r"\s*(?:,[^{]*)?\{([^}]*)\}",
                          css.read(), re.M)
    return found.group(1) if found else ""


def test_an_acknowledgement_on_the_timeline_is_shown_calm_not_in_the_alerts_red(nurse,
                                                                                  patient):
    client = login(nurse)
    client.post(f"/patients/{patient.pk}/measures/new/phq9/", PHQ9_ITEM9)
    alert = Alert.objects.get()
    client.post(f"/alerts/{alert.pk}/acknowledge/", {"note": "Called her; safe at home"})
    page = client.get(f"/patients/{patient.pk}/").content.decode()
    acknowledged = re.search(r'<li class="event ([\w-]+)">\s*<time[^>]*>[^<]*</time>\s*'
                             r"<div><strong>Alert acknowledged</strong>", page)
    assert acknowledged and acknowledged.group(1) == "event-alert-ack"
    assert 'class="event event-alert"' in page  # the alert itself keeps its own
    assert "--danger" in css_rule(".event-alert strong")
    calm = css_rule(".event-alert-ack strong")
    assert calm and "--danger" not in calm


def test_an_alert_raised_in_error_reads_so_on_the_timeline(nurse, patient):
    from kapclinic.alerts import actions as alerts

    client = login(nurse)
    client.post(f"/patients/{patient.pk}/measures/new/phq9/", PHQ9_ITEM9)
    alert = Alert.objects.get()
    alerts.mark_alert_entered_in_error(alert, reason="Answers were another patient's", by=nurse)
    page = client.get(f"/patients/{patient.pk}/").content.decode()
    corrected = re.search(r'<li class="event event-correction">\s*<time[^>]*>[^<]*</time>\s*'
                          r"<div><strong>Alert marked raised in error: ", page)
    assert corrected and "Answers were another patient&#x27;s" in page
