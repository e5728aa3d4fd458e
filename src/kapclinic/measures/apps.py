from django.apps import AppConfig


class MeasuresConfig(AppConfig):
    name = "kapclinic.measures"
    label = "measures"
    verbose_name = "Measurement-based care"
