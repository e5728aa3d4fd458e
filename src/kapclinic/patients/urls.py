"""The patients app's pages (included by the root URL map; names are global)."""

from django.urls import path

from kapclinic.patients import views as patient_views

urlpatterns = [
    path("patients/", patient_views.patient_list, name="patient-list"),
    path("patients/new/", patient_views.patient_create, name="patient-create"),
    path("patients/<int:patient_id>/", patient_views.patient_chart, name="patient-chart"),
    path("patients/<int:patient_id>/edit/", patient_views.patient_edit, name="patient-edit"),
    path("patients/<int:patient_id>/conditions/", patient_views.condition_add,
         name="condition-add"),
    path("patients/<int:patient_id>/conditions/<int:condition_id>/entered-in-error/",
         patient_views.condition_entered_in_error, name="condition-entered-in-error"),
]
