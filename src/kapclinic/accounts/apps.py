from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kapclinic.accounts"
    label = "accounts"
    verbose_name = "Clinics and users"

    def ready(self) -> None:
        from kapclinic.accounts.models import clinic_roles
        from kapclinic.audit import trail

        trail.provide_clinic_roles(clinic_roles)
        from kapclinic.accounts import checks  # noqa: F401  (registers system checks)
