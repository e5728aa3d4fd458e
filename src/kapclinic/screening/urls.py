"""The screening app's pages (included by the root URL map; names are global)."""

from django.urls import path

from kapclinic.screening import views as screening_views

urlpatterns = [
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
    path("r/intake/", screening_views.intake_link_page, name="intake-link-page"),
    path("r/intake/autosave/", screening_views.intake_link_autosave,
         name="intake-link-autosave"),
    path("r/intake/<str:token>/", screening_views.intake_by_link, name="intake-by-link"),
    path("clinic/consent/", screening_views.consent_documents, name="consent-documents"),
    path("portal/consent/sign/", screening_views.portal_consent_sign, name="portal-consent-sign"),
]
