from django.apps import AppConfig


class PlatformConfig(AppConfig):
    """The bottom layer every app may use: request helpers (rate limits, idempotent writes,
    client address, safe redirects, plain-text fields, labels) and their tables."""

    name = "kapclinic.platform"
    label = "platform"
    verbose_name = "Platform"
