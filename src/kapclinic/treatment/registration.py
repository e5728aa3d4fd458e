"""Everything the treatment app contributes to the shared pages and processes (called from
TreatmentConfig.ready)."""

from __future__ import annotations


def register_all() -> None:
    from kapclinic.accounts.permissions import Action
    from kapclinic.alerts import sources as alert_sources
    from kapclinic.platform import extensions as ext
    from kapclinic.treatment import (
        ae_actions,
        ae_chart,
        ae_views,
        alert_details,
        api,
        care_team,
        chart,
        demo_data,
        doses,
        monitor_views,
        note_chart,
        note_views,
        rems,
        worker,
    )

    ext.register(
        # between screening (10) and measures (30), as ADR 0010 left room for
        ext.ChartSection("treatment", "treatment/_chart_section.html", chart.load_section,
                         Action.SESSION_VIEW, order=20, events=chart.section_events),
        # after screening's loader (10), which brings the patients it doses into treatment
        # adverse events beside the sessions (issue 13), read by whoever reads the chart
        ext.ChartSection("adverse-events", "treatment/_ae_chart_section.html", ae_chart.load_section,
                         Action.PATIENT_VIEW, order=22, events=ae_chart.section_events),
        ext.NavItem("safety-listing", "Safety", "safety-listing", Action.SAFETY_LISTING, order=85),
        # therapy notes: the care team's, under the sessions and adverse events (issue 13)
        ext.ChartSection("notes", "treatment/_note_chart_section.html", note_chart.load_section,
                         Action.NOTE_READ, order=24, events=note_chart.section_events),
        ext.NavItem("my-notes", "Notes", "my-notes", Action.NOTE_WRITE, order=27,
                    badge=note_views.open_work),
        ext.NavItem("emergency-access", "Emergency access", "emergency-access-list",
                    Action.EMERGENCY_ACCESS_REVIEW, order=95, badge=note_views.accesses_to_review),
        ext.NavItem("note-settings", "Note settings", "note-settings", Action.NOTE_SETTINGS, order=96,
                    about="Note templates, the trainees whose notes a supervisor co-signs, and "
                          "emergency access."),
        # bedside monitors (issue 15): the unmatched queue for who runs sessions, the devices
        # for who sets sessions up
        ext.NavItem("monitors-unmatched", "Monitor messages", "monitors-unmatched", Action.SESSION_RUN,
                    order=17, badge=monitor_views.unmatched_count),
        ext.NavItem("monitors", "Monitors", "monitors", Action.SESSION_SETTINGS, order=76,
                    about="The bedside monitors that send vitals, and the room and chair each is at."),
        # the clinicians of a patient's sessions, and a running emergency access, are on the
        # patient's care team (the registry adds the assigned prescriber and therapist)
        ext.CareTeamSource("session-staff", "Clinician of one of their sessions",
                           care_team.session_staff, order=20),
        ext.CareTeamSource("supervision", "Supervisor co-signing a trainee's note", care_team.supervision,
                           order=30),
        ext.CareTeamSource("emergency-access", care_team.EMERGENCY, care_team.emergency, order=90),
        # the day after a session the portal asks how the patient has been
        ext.PortalSection("treatment.after_session", "treatment/_portal_after_session.html",
                          ae_views.load_portal, order=5),
        ext.DemoLoader("treatment", demo_data.load, order=15),
        ext.ApiRouter("treatment", "", api.router, order=40),
        ext.NavItem("calendar", "Calendar", "calendar", Action.SESSION_VIEW, order=25),
        # overdue readings and missed marks raise alerts, each clinic on its own
        *worker.steps(),
        rems.worker_step(),  # a reminder for a REMS form not yet submitted (issue 12)
        # measures read time since the nearest dose from here
        ext.DoseRecords("treatment", doses.doses_of),
        ext.NavItem("session-settings", "Session settings", "session-settings", Action.SESSION_SETTINGS,
                    order=75,
                    about="Rooms and chairs, courses, late entries, protocols and the REMS form details."),
        # the sessions' visit codes of a period, for whoever bills (issue 12)
        ext.NavItem("visit-codes", "Visit codes", "visit-codes", Action.SESSION_VISIT_CODES, order=90),
    )
    # the reading behind an alert a session raised, under it on the alerts pages
    alert_sources.register_source("treatment", "Dosing session", alert_details.TEMPLATE,
                                  alert_details.load,
                                  # only who records vitals and runs the session answers them
                                  acknowledge_action=Action.SESSION_RUN)
    # a serious adverse event alerts the prescriber, who answers it by reviewing the event
    alert_sources.register_source(ae_actions.ALERT_SOURCE, "Adverse event", ae_chart.ALERT_TEMPLATE,
                                  ae_chart.load_alert_details,
                                  acknowledge_action=Action.ADVERSE_EVENT_REVIEW)
