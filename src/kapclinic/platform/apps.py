from django.apps import AppConfig


class PlatformConfig(AppConfig):
    """The bottom layer every app may use: request helpers (rate limits, idempotent writes,
    client address, safe redirects, plain-text fields, labels) and their tables."""

    name = "kapclinic.platform"
    label = "platform"
    verbose_name = "Platform"

    def ready(self) -> None:
        from kapclinic.platform import extensions, idempotency

        # once a pass, for all clinics at once: the keys are the users', not a clinic's
        extensions.register(extensions.WorkerStep(
            "platform.idempotency", "expired idempotency keys forgotten",
            lambda _clinic_id, now: idempotency.purge_expired(now), per_clinic=False, order=90))
