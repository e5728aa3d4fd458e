from django.urls import path, re_path

from . import views

urlpatterns = [
    path("fhir/R4/metadata", views.metadata, name="fhir-metadata"),
    path("fhir/R4/Patient/<str:patient_id>/$everything", views.everything, name="fhir-everything"),
    re_path(r"^fhir/R4/(?P<resource>[A-Za-z]{1,64})$", views.search, name="fhir-search"),
    re_path(r"^fhir/R4/(?P<resource>[A-Za-z]{1,64})/(?P<resource_id>[A-Za-z0-9\-.]{1,64})$", views.read,
            name="fhir-read"),
]
urlpatterns.append(re_path(r"^fhir/R4(?:/.*)?$", views.no_such_path, name="fhir-unknown"))
