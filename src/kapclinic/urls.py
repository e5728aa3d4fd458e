"""The root URL map: every kapclinic app that has a urls.py is included (a new app adds its
own, nothing here); the API is mounted under /api/v1/."""

from importlib.util import find_spec

from django.apps import apps
from django.urls import include, path

from kapclinic.api import api

APP_URLS = [f"{config.name}.urls" for config in apps.get_app_configs()
            if config.name.startswith("kapclinic.") and find_spec(f"{config.name}.urls")]

urlpatterns = [
    *(path("", include(module)) for module in APP_URLS),
    path("api/v1/", api.urls),
]

handler403 = "kapclinic.web.views.forbidden"
handler404 = "kapclinic.web.views.not_found"
handler500 = "kapclinic.web.views.server_error"
