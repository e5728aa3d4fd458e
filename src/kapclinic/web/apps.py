from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "kapclinic.web"
    label = "web"
    verbose_name = "Web app"
