"""The root URL map: each app owns its urls.py; the API is mounted under /api/v1/."""

from django.urls import include, path

from kapclinic.api import api

urlpatterns = [
    path("", include("kapclinic.web.urls")),
    path("", include("kapclinic.patients.urls")),
    path("", include("kapclinic.screening.urls")),
    path("", include("kapclinic.measures.urls")),
    path("", include("kapclinic.audit.urls")),
    path("", include("kapclinic.dosing.urls")),
    path("api/v1/", api.urls),
]

handler403 = "kapclinic.web.views.forbidden"
handler404 = "kapclinic.web.views.not_found"
handler500 = "kapclinic.web.views.server_error"
