from django.urls import path

from kapclinic.api import api
from kapclinic.audit import views as audit_views
from kapclinic.dosing import views as dosing_views
from kapclinic.measures import views as measure_views
from kapclinic.patients import views as patient_views
from kapclinic.screening import views as screening_views
from kapclinic.web import portal as portal_views
from kapclinic.web import tokens, two_factor, users
from kapclinic.web import views as web_views

urlpatterns = [
    path("", web_views.home, name="home"),
    path("login/", web_views.login, name="login"),
    path("logout/", web_views.logout, name="logout"),
    path("login/verify/", two_factor.verify, name="mfa-verify"),
    path("account/two-factor/", two_factor.enrol, name="mfa-enrol"),
    path("account/two-factor/off/", two_factor.remove, name="mfa-remove"),
    path("clinic/users/", users.user_list, name="users"),
    path("clinic/users/add/", users.add_user, name="user-add"),
    path("clinic/users/<int:membership_id>/role/", users.change_role, name="user-role"),
    path("clinic/users/<int:membership_id>/end/", users.end_access, name="user-end"),
    path("clinic/users/<int:membership_id>/restore/", users.restore_access, name="user-restore"),
    path("clinic/users/<int:membership_id>/password-link/", users.new_password_link,
         name="user-password-link"),
    path("clinic/users/<int:membership_id>/two-factor-reset/", users.reset_authenticator,
         name="user-mfa-reset"),
    path("account/set-password/<uidb64>/<token>/", users.set_password, name="set-password"),
    path("clinic/security/", two_factor.security, name="security-settings"),
    path("account/tokens/", tokens.token_list, name="tokens"),
    path("account/tokens/revoke/", tokens.token_revoke, name="token-revoke"),
    path("clinic/switch/", web_views.switch_clinic, name="switch-clinic"),
    path("healthz", web_views.healthz, name="healthz"),
    path("patients/", patient_views.patient_list, name="patient-list"),
    path("patients/new/", patient_views.patient_create, name="patient-create"),
    path("patients/<int:patient_id>/", patient_views.patient_chart, name="patient-chart"),
    path("patients/<int:patient_id>/edit/", patient_views.patient_edit, name="patient-edit"),
    path("patients/<int:patient_id>/conditions/", patient_views.condition_add,
         name="condition-add"),
    path("patients/<int:patient_id>/conditions/<int:condition_id>/entered-in-error/",
         patient_views.condition_entered_in_error, name="condition-entered-in-error"),
    path("patients/<int:patient_id>/intake/", screening_views.intake_edit, name="intake"),
    path("patients/<int:patient_id>/intake/autosave/", screening_views.intake_autosave,
         name="intake-autosave"),
    path("patients/<int:patient_id>/screening/", screening_views.screening, name="screening"),
    path("patients/<int:patient_id>/screening/evaluate/", screening_views.evaluate,
         name="screening-evaluate"),
    path("patients/<int:patient_id>/screening/<int:decision_id>/sign-off/",
         screening_views.sign_off, name="screening-signoff"),
    path("patients/<int:patient_id>/consent/sign/", screening_views.consent_sign_in_clinic,
         name="consent-sign"),
    path("patients/<int:patient_id>/consent/<int:consent_id>/withdraw/",
         screening_views.consent_withdraw, name="consent-withdraw"),
    path("patients/<int:patient_id>/intake/link/", screening_views.intake_link_create,
         name="intake-link"),
    path("r/intake/<str:token>/", screening_views.intake_by_link, name="intake-by-link"),
    path("r/intake/<str:token>/autosave/", screening_views.intake_by_link_autosave,
         name="intake-by-link-autosave"),
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
    path("patients/<int:patient_id>/measures/events/<int:event_id>/error/",
         measure_views.event_entered_in_error, name="event-error"),
    path("patients/<int:patient_id>/measures/responses/<int:response_id>/error/",
         measure_views.response_entered_in_error, name="response-error"),
    path("alerts/", measure_views.alert_list, name="alerts"),
    path("dashboard/", measure_views.clinic_dashboard, name="dashboard"),
    path("alerts/<int:alert_id>/acknowledge/", measure_views.acknowledge,
         name="alert-acknowledge"),
    path("clinic/outbox/", measure_views.outbox, name="outbox"),
    path("clinic/measures/", measure_views.measure_settings, name="measure-settings"),
    path("clinic/outcomes/", measure_views.outcome_settings, name="outcome-settings"),
    path("r/measure/<str:token>/", measure_views.self_report, name="self-report"),
    path("clinic/consent/", screening_views.consent_documents, name="consent-documents"),
    path("portal/", portal_views.portal, name="portal"),
    path("portal/measures/<int:request_id>/", measure_views.portal_answer, name="portal-answer"),
    path("portal/consent/sign/", screening_views.portal_consent_sign, name="portal-consent-sign"),
    path("audit/", audit_views.audit_log, name="audit-log"),
    path("dosing/explorer/", dosing_views.dose_explorer, name="dose-explorer"),
    path("api/v1/", api.urls),
]

handler403 = "kapclinic.web.views.forbidden"
handler404 = "kapclinic.web.views.not_found"
handler500 = "kapclinic.web.views.server_error"
