"""The alerts app's pages (included by the root URL map; names are global)."""

from django.urls import path

from kapclinic.alerts import views

urlpatterns = [
    path("alerts/", views.alert_list, name="alerts"),
    path("alerts/<int:alert_id>/acknowledge/", views.acknowledge, name="alert-acknowledge"),
    path("clinic/outbox/", views.outbox, name="outbox"),
]
