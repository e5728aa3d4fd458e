from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "kapclinic.interop"
    label = "interop"
    verbose_name = "FHIR interoperability and research exports"
