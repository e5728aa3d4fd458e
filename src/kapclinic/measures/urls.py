"""The measures app's pages (included by the root URL map; names are global)."""

from django.urls import path

from kapclinic.measures import views as measure_views

urlpatterns = [
    path("patients/<int:patient_id>/measures/", measure_views.patient_measures,
         name="patient-measures"),
    path("patients/<int:patient_id>/measures/new/<slug:instrument>/",
         measure_views.enter_response, name="measure-enter"),
    path("patients/<int:patient_id>/measures/send/", measure_views.send_now, name="measure-send"),
    path("patients/<int:patient_id>/measures/schedule/", measure_views.start_schedule,
         name="measure-schedule"),
    path("patients/<int:patient_id>/measures/schedules/<int:schedule_id>/",
         measure_views.toggle_schedule, name="measure-schedule-toggle"),
    path("patients/<int:patient_id>/measures/events/", measure_views.record_event,
         name="event-record"),
    path("patients/<int:patient_id>/measures/events/<int:clinical_event_id>/error/",
         measure_views.event_entered_in_error, name="event-error"),
    path("patients/<int:patient_id>/measures/responses/<int:response_id>/error/",
         measure_views.response_entered_in_error, name="response-error"),
    path("dashboard/", measure_views.clinic_dashboard, name="dashboard"),
    path("clinic/measures/", measure_views.measure_settings, name="measure-settings"),
    path("clinic/outcomes/", measure_views.outcome_settings, name="outcome-settings"),
    path("r/measure/", measure_views.self_report_page, name="self-report-page"),
    path("r/measure/<str:token>/", measure_views.self_report, name="self-report"),
    path("portal/measures/<int:request_id>/", measure_views.portal_answer, name="portal-answer"),
]
