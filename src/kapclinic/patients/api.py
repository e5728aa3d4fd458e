"""API: the patient registry. Validation is the web form's, so both agree on every rule."""


from datetime import date

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Schema
from ninja import Status as Reply
from ninja.errors import ValidationError
from pydantic import ConfigDict

from kapclinic.accounts.api_auth import GuardedRouter
from kapclinic.accounts.permissions import Action, require
from kapclinic.audit import trail
from kapclinic.patients import actions
from kapclinic.patients.access import get_patient_for_user
from kapclinic.patients.forms import EDITABLE_FIELDS, PatientForm
from kapclinic.patients.models import Patient, SexAtBirth, Status
from kapclinic.patients.queries import SearchTooLong, search_patients
from kapclinic.platform.problems import field_refusal

router = GuardedRouter(tags=["patients"])
MAX_ID = 2**63 - 1  # the largest id the database stores: a larger one is refused (422)
MAX_VERSION = 2**31 - 1  # the largest version the database stores: a larger one is a 422


class ConditionOut(Schema):
    code: str
    display: str
    code_system: str
    treatment_resistant: bool
    entered_in_error: bool


class PatientOut(Schema):
    id: int
    mrn: str
    given_name: str
    family_name: str
    date_of_birth: date
    sex_at_birth: SexAtBirth
    status: Status
    phone: str
    email: str
    address: str
    emergency_contact_name: str
    emergency_contact_relationship: str
    emergency_contact_phone: str
    prescriber_id: int | None
    therapist_id: int | None
    version: int


class PatientDetailOut(PatientOut):
    conditions: list[ConditionOut]


class PatientPage(Schema):
    count: int
    page: int
    pages: int
    results: list[PatientOut]


class PatientIn(Schema):
    model_config = ConfigDict(extra="forbid")

    mrn: str = Field(max_length=32)
    given_name: str = Field(max_length=100)
    family_name: str = Field(max_length=100)
    date_of_birth: date
    sex_at_birth: SexAtBirth
    status: Status = Status.REFERRED
    phone: str = ""
    email: str = ""
    address: str = ""
    emergency_contact_name: str = ""
    emergency_contact_relationship: str = ""
    emergency_contact_phone: str = ""
    prescriber_id: int | None = None
    therapist_id: int | None = None


class PatientPatch(Schema):
    """Only the fields to change, plus the version the client last read."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=MAX_VERSION)
    mrn: str | None = Field(None, max_length=32)
    given_name: str | None = Field(None, max_length=100)
    family_name: str | None = Field(None, max_length=100)
    date_of_birth: date | None = None
    sex_at_birth: SexAtBirth | None = None
    status: Status | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    emergency_contact_name: str | None = None
    emergency_contact_relationship: str | None = None
    emergency_contact_phone: str | None = None
    prescriber_id: int | None = None
    therapist_id: int | None = None


def _form_data(values: dict) -> dict:
    """API names (prescriber_id) to form names (prescriber), None to empty."""
    data = {}
    for name in EDITABLE_FIELDS:
        value = values.get(f"{name}_id", values.get(name))
        data[name] = "" if value is None else value
    return data


def _validate(form: PatientForm) -> None:
    if not form.is_valid():
        errors = [{"loc": ["body", f"{field}_id" if field in ("prescriber", "therapist") else field],
                   "msg": " ".join(messages)} for field, messages in form.errors.items()]
        raise ValidationError(errors)


def _detail(patient: Patient) -> dict:
    out = PatientOut.model_validate(patient).model_dump()
    out["conditions"] = [
        {"code": c.code, "display": c.display, "code_system": c.code_system,
         "treatment_resistant": c.treatment_resistant, "entered_in_error": not c.is_active}
        for c in patient.conditions.all()
    ]
    return out


@router.get("", response=PatientPage)
@require(Action.PATIENT_LIST)
def list_patients(request: HttpRequest, q: str = "", status: Status | None = None,
                  member_id: int | None = Query(None, ge=1, le=MAX_ID),
                  page: int = Query(1, ge=1, le=100_000)):
    try:
        patients = search_patients(request.membership.clinic_id, q, status or "", member_id)
    except SearchTooLong as exc:
        raise field_refusal("q", str(exc), "query") from exc
    size = settings.KAPCLINIC_PAGE_SIZE
    count = patients.count()
    results = list(patients[(page - 1) * size: page * size])
    trail.record_many([trail.Event("list", "patient", p.pk, patient_id=p.pk) for p in results])
    return {"count": count, "page": page, "pages": max(1, -(-count // size)),
            "results": results}


@router.post("", response={201: PatientDetailOut})
@require(Action.PATIENT_CREATE)
def create_patient(request: HttpRequest, payload: PatientIn):
    clinic = request.membership.clinic
    form = PatientForm(_form_data(payload.model_dump()), clinic=clinic)
    _validate(form)
    data = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS}
    try:
        patient = actions.create_patient(clinic=clinic, data=data, by=request.user)
    except actions.StatusRefused as exc:
        raise field_refusal("status", str(exc)) from exc
    return Reply(201, _detail(patient))


@router.get("/{patient_id}", response=PatientDetailOut)
@require(Action.PATIENT_VIEW)
def read_patient(request: HttpRequest, patient_id: int):
    return _detail(get_patient_for_user(request, patient_id, Action.PATIENT_VIEW))


@router.patch("/{patient_id}", response=PatientDetailOut)
@require(Action.PATIENT_EDIT)
def update_patient(request: HttpRequest, patient_id: int, payload: PatientPatch):
    patient = get_patient_for_user(request, patient_id, Action.PATIENT_EDIT, audit_read=False)
    current = PatientOut.model_validate(patient).model_dump()
    changes = payload.model_dump(exclude_unset=True)
    version = changes.pop("version")
    form = PatientForm(_form_data({**current, **changes}), instance=patient, clinic=patient.clinic)
    _validate(form)
    try:
        fresh = actions.update_patient(patient=patient, changes=form.changed_values(),
                                       expected_version=version, by=request.user)
    except actions.StatusRefused as exc:
        raise field_refusal("status", str(exc)) from exc
    return _detail(fresh)
