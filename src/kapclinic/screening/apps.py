from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "kapclinic.screening"
    label = "screening"
    verbose_name = "Intake, eligibility and consent"

    def ready(self) -> None:
        from kapclinic.patients import status
        from kapclinic.patients.models import Status
        from kapclinic.screening.actions import treatment_blocker

        status.register_guard(Status.IN_TREATMENT, treatment_blocker)
