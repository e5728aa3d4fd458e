from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "kapclinic.web"
    label = "web"
    verbose_name = "Web app"

    def ready(self) -> None:
        from kapclinic.accounts.permissions import Action
        from kapclinic.platform import extensions as ext

        # the shell's own pages: the portal, staff management and the audit trail's pages
        ext.register(
            ext.NavItem("portal", "My care", "portal", Action.PORTAL, order=60),
            ext.NavItem("users", "Users", "users", Action.USER_MANAGE, order=100,
                        about="Staff accounts, their roles, password links and two-factor resets."),
            ext.NavItem("audit-log", "Audit trail", "audit-log", Action.AUDIT_VIEW, order=110),
            ext.Landing("audit-log", "audit-log", Action.AUDIT_VIEW, order=20),
            ext.Landing("portal", "portal", Action.PORTAL, order=30),
        )
