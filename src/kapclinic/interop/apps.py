from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "kapclinic.interop"
    label = "interop"
    verbose_name = "FHIR interoperability and research exports"

    def ready(self) -> None:
        from kapclinic.accounts.permissions import Action
        from kapclinic.interop import jobs
        from kapclinic.platform import extensions

        extensions.register(
            extensions.NavItem("research", "Research data", "research", Action.RESEARCH_EXPORT, order=80),
            extensions.NavItem("export-settings", "Export settings", "export-settings",
                               Action.EXPORT_SETTINGS, order=95,
                               about="What leaves the clinic and how: the FHIR bulk export and "
                                     "the research data set."))
        extensions.register(extensions.WorkerStep(
            "interop.bulk_exports", "bulk exports run, and their files deleted when their time is up",
            jobs.worker_step, order=80))
