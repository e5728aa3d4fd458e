from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Alerts and notifications that belong to no one app: any app raises an alert through
    ``alerts.actions.raise_alert`` and queues a message through ``alerts.notifications``;
    the worker escalates the alerts and sends the messages, clinic by clinic."""

    name = "kapclinic.alerts"
    label = "alerts"
    verbose_name = "Alerts and notifications"

    def ready(self) -> None:
        from kapclinic.accounts.permissions import Action
        from kapclinic.alerts import badges, worker
        from kapclinic.platform import extensions as ext

        ext.register(
            ext.NavItem("alerts", "Alerts", "alerts", Action.ALERT_VIEW, order=30,
                        badge=badges.open_alert_count),
            ext.NavItem("outbox", "Outbox", "outbox", Action.OUTBOX_VIEW, order=90),
            *worker.steps(),
        )
