from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "kapclinic.patients"
    label = "patients"
    verbose_name = "Patient registry"
