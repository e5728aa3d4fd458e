"""Test settings: the app's own, on a throwaway data folder, SQLite or PostgreSQL."""

import os
import tempfile

import dj_database_url

os.environ["KAPCLINIC_ENV"] = "development"
os.environ["KAPCLINIC_DATA_DIR"] = tempfile.mkdtemp(prefix="kapclinic-test-")
os.environ.pop("KAPCLINIC_DATABASE_URL", None)
os.environ.pop("KAPCLINIC_DEBUG", None)

from kapclinic.settings import *  # noqa: E402,F403

POSTGRES_URL = os.environ.get("KAPCLINIC_TEST_DATABASE_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")
if os.environ.get("KAPCLINIC_TEST_POSTGRES"):
    DATABASES = {"default": dj_database_url.parse(POSTGRES_URL)}  # noqa: F405 (star import)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
AXES_ENABLED = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 (whitenoise warns on a missing folder)
# The tests' database is this process's (in memory): a bulk export asked for over the API is run
# by calling the worker's step, not by a process of its own.
KAPCLINIC_EXPORT_RUNNER = "worker"
