"""What each app shows under its own alerts on the alerts pages.

The app that raises an alert knows what lies behind it (the answers of a questionnaire, the
blood pressure of a dosing session, a stock count): it registers, from ``AppConfig.ready()``,
a template for that detail and a loader. The alerts app never imports it. ``load(alerts)``
gets every alert of its source on the page at once and returns each alert's template context
by alert id, so a page costs one batch per source, never a query per alert. An alert whose
source registered nothing (or whose record the loader did not find) shows its label,
recommended action and patient only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kapclinic.accounts.permissions import Action, check
from kapclinic.alerts.models import Alert

# the patient's name links here when the source names no better page
CHART = "patient-chart"


@dataclass(frozen=True)
class AlertSource:
    source: str                       # Alert.source, e.g. "measures"
    label: str                        # what raised it, in clinician words: "Questionnaire"
    template: str                     # rendered under the alert with ``alert`` + its context
    load: Callable[[list[Alert]], dict[int, dict[str, Any]]]
    patient_url_name: str = CHART     # where the patient's name leads (takes the patient id)
    # the permission, beyond acknowledging alerts at all, that acknowledging this source's
    # alerts asks for (a dosing session's are answered by whoever may run the session)
    acknowledge_action: Action | None = None


@dataclass(frozen=True)
class Shown:
    """How one alert is shown: read by the alerts templates as ``alert.shown``."""

    source_label: str = ""
    template: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    patient_url_name: str = CHART


_sources: dict[str, AlertSource] = {}


def register_source(source: str, label: str, template: str,
                    load: Callable[[list[Alert]], dict[int, dict[str, Any]]], *,
                    patient_url_name: str = CHART,
                    acknowledge_action: Action | None = None) -> None:
    """Registering the same source again replaces it (a ``ready()`` that runs twice).
    ``acknowledge_action``: what else a user's role must be allowed to acknowledge this
    source's alerts (besides Action.ALERT_ACKNOWLEDGE); None = nothing else."""
    _sources[source] = AlertSource(source, label, template, load, patient_url_name,
                                   acknowledge_action)


def acknowledge_action(alert: Alert) -> Action | None:
    """What the alert's source asks of whoever acknowledges it, beyond ALERT_ACKNOWLEDGE."""
    entry = _sources.get(alert.source)
    return entry.acknowledge_action if entry is not None else None


def check_acknowledge(request: Any, alert: Alert) -> None:
    """Raise PermissionDenied (the refusal audited) unless the request's role may
    acknowledge ``alert`` under its source's rule."""
    action = acknowledge_action(alert)
    if action is not None:
        check(request, action)


def registered(source: str) -> AlertSource | None:
    return _sources.get(source)


def with_details(alerts: Iterable[Alert]) -> list[Alert]:
    """``alerts`` with ``alert.shown`` set on each: one ``load`` call per source present."""
    alerts = list(alerts)
    by_source: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_source[alert.source].append(alert)
    for source, group in by_source.items():
        entry = _sources.get(source)
        if entry is None:
            for alert in group:
                alert.shown = Shown()
            continue
        contexts = entry.load(group)
        for alert in group:
            context = contexts.get(alert.pk)
            alert.shown = Shown(entry.label, entry.template if context is not None else None,
                                context or {}, entry.patient_url_name)
    return alerts
