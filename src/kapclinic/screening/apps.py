from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "kapclinic.screening"
    label = "screening"
    verbose_name = "Intake, eligibility and consent"

    def ready(self) -> None:
        from kapclinic.accounts.permissions import Action
        from kapclinic.patients import status
        from kapclinic.patients.models import Status
        from kapclinic.platform import extensions as ext
        from kapclinic.screening import actions, demo_data, portal, summary
        from kapclinic.screening.actions import treatment_blocker

        status.register_guard(Status.IN_TREATMENT, treatment_blocker)
        ext.register(
            ext.ChartSection("screening", "screening/_chart_section.html", summary.load_section,
                             Action.PATIENT_VIEW, order=10, events=summary.section_events),
            ext.NavItem("consent-text", "Consent text", "consent-documents",
                        Action.CONSENT_TEXT_EDIT, order=50,
                        about="The consent documents patients read and sign, each version kept."),
            ext.PortalSection("screening.consent", "screening/_portal_consent.html",
                              portal.load_consent, order=30),
            # walks demo patients through intake, sign-off and consent to their statuses
            ext.DemoLoader("screening", demo_data.load, order=10),
            # a dose needs a signed eligibility for its drug and route, and a current consent
            ext.DoseClearance("screening", actions.dose_blockers),
        )
