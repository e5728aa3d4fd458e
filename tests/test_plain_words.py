"""No developer words in the product: the main pages, rendered with demo-like data, speak
plain clinical language (no "[policy]", "clinical.md", "{score}", "mm[Hg]", ids like phq9 or
suicide_risk_high, rule ids in the outcomes box)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils.html import strip_tags

from kapclinic.accounts.models import Membership, User
from kapclinic.alerts.models import Alert
from kapclinic.clinical import instruments
from kapclinic.demo import load_demo
from kapclinic.measures import actions
from kapclinic.measures.models import MeasureRequest
from kapclinic.patients.models import Patient
from tests.conftest import login, set_directly
from tests.outbox import delivered

PATTERNS = [
    re.compile(r"clinical\.md"), re.compile(r"\[policy\]"), re.compile(r"\[unverified\]"),
    re.compile(r"\[secondary\]"), re.compile(r"\[derived\]"), re.compile(r"\{\w+\}"),
    re.compile(r"mm\[Hg\]"), re.compile(r"\b[a-z]+_[a-z0-9_]+\b"),
]


def instrument_ids() -> list[str]:
    # "audit" is also an English word (the audit log): the AUDIT is shown as "AUDIT"
    return [row["id"] for row in instruments.list_instruments()]


def shown_text(html: str) -> str:
    """What a person reads: the page's text without tags, scripts, styles or attribute values."""
    html = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
    html = re.sub(r"(?is)<!--.*?-->", " ", html)
    return strip_tags(html)


def developer_words(html: str, *, ids: bool = True) -> list[str]:
    text = shown_text(html)
    patterns = PATTERNS if ids else PATTERNS[:-1]
    found = [m.group(0) for p in patterns for m in p.finditer(text)]
    if not ids:
        return found
    found += [w for w in instrument_ids()
              if w != "audit" and re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)]
    return found


@pytest.fixture
def demo(db):
    load_demo(patients=8, seed=7, password="demo-pass-123", weeks=12)
    return Patient.objects.filter(clinic__slug="harbor").order_by("mrn")


def user(username: str) -> User:
    return User.objects.get(username=username)


def with_alert(demo) -> Patient:
    alert = Alert.objects.filter(patient__clinic__slug="harbor").select_related("patient").first()
    if alert is not None:
        return alert.patient
    patient = demo[1]
    answers = {str(n): 0 for n in range(1, 10)} | {"9": 2, "10": None}
    actions.record_response(patient=patient, instrument="phq9", answers=answers,
                            source="clinic", by=user("prescriber"))
    return patient


def test_the_main_pages_show_no_developer_words(demo):
    prescriber, admin = login(user("prescriber")), login(user("admin"))
    patient = with_alert(demo)
    pages = {
        "chart": (prescriber, f"/patients/{patient.pk}/"),
        "measures": (prescriber, f"/patients/{patient.pk}/measures/"),
        "dashboard": (prescriber, "/dashboard/"),
        "alerts": (prescriber, "/alerts/"),
        "outcome rules": (admin, "/clinic/outcomes/"),
        "measure settings": (admin, "/clinic/measures/"),
        "screening": (prescriber, f"/patients/{patient.pk}/screening/"),
        "intake": (prescriber, f"/patients/{patient.pk}/intake/"),
        "users": (admin, "/clinic/users/"),
        "audit": (admin, "/audit/"),
    }
    for instrument in instrument_ids():
        pages[f"entry {instrument}"] = (prescriber, f"/patients/{patient.pk}/measures/new/{instrument}/")
    found = {}
    for name, (client, path) in pages.items():
        page = client.get(path)
        assert page.status_code == 200, (name, page.status_code)
        words = developer_words(page.content.decode())
        if words:
            found[name] = sorted(set(words))
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())


def test_the_patients_pages_show_no_developer_words(demo):
    patient = demo[0]  # the demo's portal login
    set_directly(Patient.objects.filter(pk=patient.pk), email="p@example.org", phone="555-0100")
    nurse = login(user("nurse"))
    found = {}
    for instrument in ("phq9", "gad7", "audit_c"):
        nurse.post(f"/patients/{patient.pk}/measures/send/", {"instrument": instrument})
        path = "/r/measure/" + delivered()[-1].body.split("/r/measure/", 1)[1].split("/", 1)[0] + "/"
        page = Client().get(path, follow=True)
        assert page.status_code == 200
        words = developer_words(page.content.decode())
        if words:
            found[f"link {instrument}"] = sorted(set(words))
    portal_user = Membership.objects.get(clinic__slug="harbor", role="patient").user
    client = login(portal_user)
    portal = client.get("/portal/")
    found["portal"] = sorted(set(developer_words(portal.content.decode())))
    for due in MeasureRequest.objects.filter(patient=patient, link__used_at__isnull=True):
        page = client.get(f"/portal/measures/{due.pk}/")
        if page.status_code == 200:
            found[f"portal {due.instrument}"] = sorted(set(developer_words(page.content.decode())))
    found = {k: v for k, v in found.items() if v}
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())
