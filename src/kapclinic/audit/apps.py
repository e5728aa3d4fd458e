from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "kapclinic.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # connects receivers and system checks; declares each app's audit_types.py
        from kapclinic.audit import checks, signals, types  # noqa: F401

        types.declare_installed_apps()
