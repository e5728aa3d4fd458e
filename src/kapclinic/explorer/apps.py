from django.apps import AppConfig


class ExplorerConfig(AppConfig):
    name = "kapclinic.explorer"
    label = "explorer"
    verbose_name = "Dose explorer (pharmacokinetic decision support)"

    def ready(self) -> None:
        from kapclinic.accounts.permissions import Action
        from kapclinic.explorer import api
        from kapclinic.platform import extensions as ext

        ext.register(
            ext.NavItem("dose-explorer", "Dose explorer", "dose-explorer", Action.PK_SIMULATE,
                        order=40),
            # a role with nothing else to start from starts at the explorer
            ext.Landing("dose-explorer", "dose-explorer", Action.PK_SIMULATE, order=40),
            ext.ApiRouter("pk", "/pk", api.router, order=20),
        )
