from django.urls import path, re_path

from . import research_views, settings_views, views

urlpatterns = [
    path("settings/exports/", settings_views.export_settings, name="export-settings"),
    path("research/", research_views.research_page, name="research"),
    path("research/make", research_views.research_make, name="research-make"),
    path("research/files/<str:file_name>", research_views.research_file, name="research-file"),
    path("fhir/R4", views.transaction_bundle, name="fhir-transaction"),
    path("fhir/R4/", views.transaction_bundle),
    path("fhir/R4/metadata", views.metadata, name="fhir-metadata"),
    path("fhir/R4/Patient/<str:patient_id>/$everything", views.everything, name="fhir-everything"),
    path("fhir/R4/$export", views.export_kickoff, name="fhir-export"),
    path("fhir/R4/Group/<str:group_id>/$export", views.export_kickoff, name="fhir-group-export"),
    path("fhir/R4/bulk/<str:export_id>", views.export_status, name="fhir-export-status"),
    re_path(r"^fhir/R4/bulk/(?P<export_id>[0-9]{1,18})/(?P<filename>[A-Za-z]{1,64}\.ndjson)$",
            views.export_file, name="fhir-export-file"),
    re_path(r"^fhir/R4/(?P<resource>[A-Za-z]{1,64})$", views.search, name="fhir-search"),
    re_path(r"^fhir/R4/(?P<resource>[A-Za-z]{1,64})/(?P<resource_id>[A-Za-z0-9\-.]{1,64})$", views.read,
            name="fhir-read"),
]
urlpatterns.append(re_path(r"^fhir/R4(?:/.*)?$", views.no_such_path, name="fhir-unknown"))
