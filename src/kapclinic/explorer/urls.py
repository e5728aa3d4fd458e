"""The dose explorer's pages (included by the root URL map; names are global)."""

from django.urls import path

from kapclinic.explorer import views as explorer_views

urlpatterns = [
    path("dosing/explorer/", explorer_views.dose_explorer, name="dose-explorer"),
]
