from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "kapclinic.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from kapclinic.audit import checks, signals  # noqa: F401  (connects receivers, checks)
