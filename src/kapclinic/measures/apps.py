from django.apps import AppConfig


class MeasuresConfig(AppConfig):
    name = "kapclinic.measures"
    label = "measures"
    verbose_name = "Measurement-based care"

    def ready(self) -> None:
        from kapclinic.accounts.permissions import Action
        from kapclinic.alerts import escalation
        from kapclinic.measures import (
            anchoring,
            api,
            dashboard,
            demo_data,
            outcomes,
            portal,
            summary,
            worker,
        )
        from kapclinic.platform import extensions as ext

        ext.register(
            ext.ChartSection("measures", "measures/_chart_section.html", summary.load_section,
                             Action.PATIENT_VIEW, order=30, events=summary.section_events),
            ext.NavItem("outcomes", "Outcomes", "dashboard", Action.DASHBOARD_VIEW, order=20),
            ext.NavItem("measure-settings", "Measurement settings", "measure-settings",
                        Action.MEASURE_SETTINGS, order=70,
                        about="Crisis words, the questionnaires patients are sent and the follow-up "
                              "after each dose."),
            ext.NavItem("outcome-settings", "Outcome rules", "outcome-settings",
                        Action.OUTCOME_SETTINGS, order=80,
                        about="How response, remission, relapse and fading relief are decided."),
            ext.PortalSection("measures.due", "measures/_portal_due.html", portal.load_due,
                              order=10),
            ext.PortalSection("measures.trajectories", "measures/_portal_trajectories.html",
                              portal.load_trajectories, order=20),
            ext.DemoLoader("measures", demo_data.load, order=20),
            ext.ApiRouter("measures", "", api.router, order=30),
            # outcomes are grouped by condition: a diagnosis change recomputes them
            ext.PatientHook("measures.outcomes", condition_changed=outcomes.refresh_all),
            # issue 12: the follow-ups each dose schedules, the peaks of what a session took,
            # and who the outcomes list as losing relief (a course offers them a booster)
            ext.DoseHook("measures.followups", anchoring.dose_given),
            ext.SessionScores("measures", anchoring.session_peaks),
            ext.FadingRelief("measures", dashboard.fading_patient_ids),
            *worker.steps(),
        )
        # the clinic's escalation time is on its measurement settings page
        escalation.read_escalation_minutes_with(worker.escalation_minutes)
        from kapclinic.alerts import sources as alert_sources
        from kapclinic.measures import alert_details

        # the answers behind an alert a questionnaire raised, under it on the alerts pages
        alert_sources.register_source("measures", "Questionnaire", alert_details.TEMPLATE,
                                      alert_details.load, patient_url_name="patient-measures")
