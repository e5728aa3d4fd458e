"""The dosing session pages (included by the root URL map; names are global)."""

from django.urls import path

from kapclinic.treatment import (
    ae_views,
    course_urls,
    dose_views,
    record,
    rems_views,
    settings_views,
    views,
    visit_codes,
)

urlpatterns = [
    *course_urls.urlpatterns,  # courses and the calendar
    path("patients/<int:patient_id>/sessions/new/", views.schedule, name="session-schedule"),
    path("sessions/board/", views.room_board, name="room-board"),
    path("sessions/board/live/", views.room_board_live, name="room-board-live"),
    path("sessions/<int:session_id>/", views.session_detail, name="session"),
    path("sessions/<int:session_id>/live/", views.session_live, name="session-live"),
    path("sessions/<int:session_id>/step/", views.take_step, name="session-step"),
    path("sessions/<int:session_id>/checklist/", views.record_checklist, name="session-checklist"),
    path("sessions/<int:session_id>/dose/", views.give_dose, name="session-dose"),
    path("sessions/<int:session_id>/dose/preview/", views.dose_preview, name="session-dose-preview"),
    path("sessions/<int:session_id>/vitals/", views.record_vitals, name="session-vitals"),
    path("sessions/<int:session_id>/observations/", views.record_observation, name="session-observation"),
    path("sessions/<int:session_id>/alerts/<int:alert_id>/acknowledge/", views.acknowledge,
         name="session-alert-acknowledge"),
    # what happens to the dose after it started: pause, resume, stop, nasal spray devices
    path("sessions/<int:session_id>/dose/events/", dose_views.record_dose_event,
         name="session-dose-event"),
    path("sessions/<int:session_id>/alerts/<int:alert_id>/pause/", dose_views.pause_for_alert,
         name="session-alert-pause"),
    # the Spravato REMS Patient Monitoring Form (issue 12)
    path("sessions/<int:session_id>/rems/", rems_views.rems_form, name="session-rems"),
    path("sessions/<int:session_id>/rems/submitted/", rems_views.mark_submitted,
         name="session-rems-submitted"),
    # the clinic's session settings, its protocols and its REMS form details
    path("clinic/sessions/", settings_views.session_settings, name="session-settings"),
    path("clinic/protocols/", settings_views.protocol_list, name="protocols"),
    path("clinic/rems/", settings_views.rems_details, name="rems-details"),
    # the printable session record and the visit codes CSV (issue 12)
    path("sessions/<int:session_id>/record/", record.session_record, name="session-record"),
    path("sessions/visit-codes/", visit_codes.visit_codes_page, name="visit-codes"),
    path("sessions/visit-codes/csv/", visit_codes.visit_codes_csv, name="visit-codes-csv"),
    # adverse events (issue 13)
    path("sessions/<int:session_id>/adverse-events/new/", ae_views.new_for_session,
         name="adverse-event-new-session"),
    path("patients/<int:patient_id>/adverse-events/new/", ae_views.new_for_patient,
         name="adverse-event-new"),
    path("adverse-events/", ae_views.listing, name="safety-listing"),
    path("adverse-events/lists/", ae_views.lists, name="adverse-event-lists"),
    path("adverse-events/<int:adverse_event_id>/", ae_views.detail, name="adverse-event"),
    path("adverse-events/<int:adverse_event_id>/review/", ae_views.review, name="adverse-event-review"),
    path("adverse-events/<int:adverse_event_id>/rems/", ae_views.rems_report, name="adverse-event-rems"),
    path("adverse-events/<int:adverse_event_id>/close/", ae_views.close, name="adverse-event-close"),
    path("adverse-events/<int:adverse_event_id>/entered-in-error/", ae_views.entered_in_error,
         name="adverse-event-error"),
    path("portal/after-session/", ae_views.portal_after_session, name="portal-after-session"),
]
