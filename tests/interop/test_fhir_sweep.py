"""The FHIR API swept with another clinic's ids: every type, every route, every role.

The demo has two clinics (harbor and cedar). Every resource of cedar's, read, searched by id or
reached through $everything or a bulk export, does not exist for any role of harbor's (404),
or the role may not read that type at all (403); nothing of cedar's is ever returned."""

from __future__ import annotations

import json

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.interop.fhir.sources import ALL_TYPES, CLINIC_TYPES
from tests.interop.conftest import Fhir, member
from tests.interop.test_fhir_api import every


def test_no_role_of_one_clinic_reaches_any_resource_of_the_other(demo_patients):
    harbor, cedar = Clinic.objects.get(slug="harbor"), Clinic.objects.get(slug="cedar")
    theirs = Fhir(member(cedar, Role.PRESCRIBER))
    cedar_ids = {t: [r["id"] for r in every(theirs, f"/{t}", _count=500)] for t in ALL_TYPES
                 if t not in CLINIC_TYPES}
    cedar_patients = cedar_ids["Patient"]
    assert all(cedar_ids.values()), "the cedar demo clinic should hold every type"
    reached = []
    for role in Role:
        user = member(harbor, role)
        if user is None:
            continue
        ours = Fhir(user)
        for resource, ids in cedar_ids.items():
            for resource_id in ids[:3]:
                read = ours.get(f"/{resource}/{resource_id}")
                if read.status_code not in (403, 404):
                    reached.append((role, resource, resource_id, read.status_code))
                found = ours.get(f"/{resource}", _id=resource_id)
                if found.status_code == 200 and json.loads(found.content)["entry"]:
                    reached.append((role, resource, f"_id={resource_id}", "listed"))
        for patient_id in cedar_patients[:3]:
            everything = ours.get(f"/Patient/{patient_id}/$everything")
            if everything.status_code not in (403, 404):
                reached.append((role, "$everything", patient_id, everything.status_code))
            searched = ours.get("/Observation", patient=patient_id)
            if searched.status_code == 200 and json.loads(searched.content)["entry"]:
                reached.append((role, "Observation", f"patient={patient_id}", "listed"))
        group = ours.client.get(f"/fhir/R4/Group/{cedar.pk}/$export", HTTP_PREFER="respond-async",
                                HTTP_AUTHORIZATION=f"Bearer {ours.secret}")
        if group.status_code not in (403, 404):
            reached.append((role, "Group $export", cedar.pk, group.status_code))
    assert not reached, f"harbor reached cedar's records: {reached[:10]}"


def test_a_clinics_own_resources_are_its_own(demo_patients):
    harbor, cedar = Clinic.objects.get(slug="harbor"), Clinic.objects.get(slug="cedar")
    ours = Fhir(member(harbor, Role.NURSE))
    assert [o["id"] for o in every(ours, "/Organization")] == [str(harbor.pk)]
    assert ours.get(f"/Organization/{cedar.pk}").status_code == 404
    staff = {p["id"] for p in every(ours, "/Practitioner")}
    cedar_only = {p["id"] for p in every(Fhir(member(cedar, Role.NURSE)), "/Practitioner")} - staff
    assert cedar_only and all(ours.get(f"/Practitioner/{pk}").status_code == 404 for pk in cedar_only)
