"""The audit app's pages (included by the root URL map; names are global)."""

from django.urls import path

from kapclinic.audit import views as audit_views

urlpatterns = [
    path("audit/", audit_views.audit_log, name="audit-log"),
]
