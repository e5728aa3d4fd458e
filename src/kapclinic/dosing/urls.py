"""The dosing app's pages (included by the root URL map; names are global)."""

from django.urls import path

from kapclinic.dosing import views as dosing_views

urlpatterns = [
    path("dosing/explorer/", dosing_views.dose_explorer, name="dose-explorer"),
]
