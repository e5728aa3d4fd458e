"""SQL queries per page, for each role (issue 11: the extension points must keep them flat).

Loads a small demo clinic, logs in as each demo role and counts the queries of the main pages
(the menu's badges, the chart's sections and timeline, the portal's sections). Query counts do
not depend on the machine; the chart is the one of the patient with the most questionnaires.
Usage: python bench/bench_page_queries.py [--patients N]
"""

import argparse
import os
import tempfile

parser = argparse.ArgumentParser()
parser.add_argument("--patients", type=int, default=40)
args = parser.parse_args()

os.environ["KAPCLINIC_ENV"] = "development"
os.environ["KAPCLINIC_DATA_DIR"] = tempfile.mkdtemp(prefix="kapclinic-bench-")
os.environ["KAPCLINIC_ALLOWED_HOSTS"] = "testserver"
os.environ["DJANGO_SETTINGS_MODULE"] = "kapclinic.settings"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from kapclinic import demo  # noqa: E402
from kapclinic.accounts.models import User  # noqa: E402
from kapclinic.patients.models import Patient  # noqa: E402

call_command("migrate", verbosity=0)
call_command("collectstatic", interactive=False, verbosity=0)
demo.load_demo(patients=args.patients, seed=5, password="bench-pass-123", weeks=8)
patient = (Patient.objects.filter(clinic__slug="harbor").annotate(n=Count("responses"))
           .order_by("-n", "mrn").first())

PAGES = {
    "prescriber": ["/patients/", f"/patients/{patient.pk}/", "/alerts/", "/dashboard/",
                   "/dosing/explorer/"],
    "nurse": ["/patients/", f"/patients/{patient.pk}/"],
    "admin": ["/clinic/users/", "/audit/"],
    "researcher": ["/"],
    "patient": ["/portal/"],
}


def queries(client: Client, url: str) -> tuple[int, int]:
    client.get(url)  # warm caches the first request fills
    with CaptureQueriesContext(connection) as captured:
        status = client.get(url, follow=True).status_code
    return status, len(captured)


print(f"{'role':<11} {'page':<32} status queries")
for username, urls in PAGES.items():
    client = Client()
    client.force_login(User.objects.get(username=username))
    for url in urls:
        status, count = queries(client, url)
        print(f"{username:<11} {url:<32} {status:>6} {count:>7}")
