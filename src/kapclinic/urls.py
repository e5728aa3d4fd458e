from django.urls import path

from kapclinic.api import api
from kapclinic.audit import views as audit_views
from kapclinic.dosing import views as dosing_views
from kapclinic.patients import views as patient_views
from kapclinic.web import views as web_views

urlpatterns = [
    path("", web_views.home, name="home"),
    path("login/", web_views.login, name="login"),
    path("logout/", web_views.logout, name="logout"),
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
    path("audit/", audit_views.audit_log, name="audit-log"),
    path("dosing/explorer/", dosing_views.dose_explorer, name="dose-explorer"),
    path("api/v1/", api.urls),
]

handler403 = "kapclinic.web.views.forbidden"
handler404 = "kapclinic.web.views.not_found"
handler500 = "kapclinic.web.views.server_error"
