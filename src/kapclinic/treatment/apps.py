from django.apps import AppConfig


class TreatmentConfig(AppConfig):
    name = "kapclinic.treatment"
    label = "treatment"
    verbose_name = "Supervised dosing sessions"

    def ready(self) -> None:
        from kapclinic.audit import types as audit_types
        from kapclinic.treatment import audit_types as ours

        audit_types.declare("treatment", actions=ours.AuditActions, records=ours.AuditRecords)
        from kapclinic.treatment import registration

        registration.register_all()
