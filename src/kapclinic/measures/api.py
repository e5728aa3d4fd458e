"""API: questionnaires. The instruments and their scoring, a patient's responses (read and
record, scored with the clinic's settings, alerts raised as in the app) and outcomes."""

# No "from __future__ import annotations": django-ninja reads the annotations at import.

from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Schema
from ninja import Status as Reply
from pydantic import ConfigDict, StrictInt, field_validator
from pydantic_core import PydanticCustomError

from kapclinic.accounts.api_auth import GuardedRouter
from kapclinic.accounts.permissions import Action, require
from kapclinic.audit import trail
from kapclinic.clinical import instruments
from kapclinic.measures import actions, since_dose
from kapclinic.measures.models import OutcomeSnapshot, Response
from kapclinic.patients.access import get_patient_for_user
from kapclinic.platform import extensions as ext
from kapclinic.platform.problems import field_refusal

router = GuardedRouter(tags=["questionnaires"])

# Strict: JSON true or "2" is refused, never stored as an answer of 1 or 2.
Answers = dict[str, StrictInt | None]
MAX_PAGE = 100_000
# More answers than any questionnaire has items is refused before they are read [policy:
# the longest shipped questionnaire has 23 items; 100,000 made one request cost a second].
MAX_ANSWERS = 200
MAX_ITEM_ID = 64  # the longest shipped item id has 26 characters


def _few_answers(answers: Any) -> Any:
    if isinstance(answers, dict) and len(answers) > MAX_ANSWERS:
        raise PydanticCustomError(
            "too_many_answers", "at most {limit} answers, one per item of the questionnaire "
            "(this has {count})", {"limit": MAX_ANSWERS, "count": f"{len(answers):,}"})
    # refused before the answers are read: a problem with an answer names its key, and a key
    # of 100,000 characters would be echoed back in full
    if isinstance(answers, dict) and any(len(str(key)) > MAX_ITEM_ID for key in answers):
        raise PydanticCustomError(
            "item_id_too_long", "an answer's key is an item id of at most {limit} characters",
            {"limit": MAX_ITEM_ID})
    return answers


class ScoreIn(Schema):
    model_config = ConfigDict(extra="forbid")

    answers: Answers
    prorate: bool = False
    sex: str | None = Field(None, description="female or male, for sex-specific cut-offs")

    _bounded = field_validator("answers", mode="before")(_few_answers)


class RecordIn(Schema):
    model_config = ConfigDict(extra="forbid")

    instrument: str
    answers: Answers
    taken_at: datetime | None = Field(None, description="ISO 8601 with a UTC offset; "
                                                        "default now")

    _bounded = field_validator("answers", mode="before")(_few_answers)


class DoseOut(Schema):
    session_id: int
    given_at: datetime
    protocol: str
    protocol_label: str
    route: str


class SinceDoseOut(Schema):
    dose: DoseOut
    minutes: int = Field(description="from the dose to the answer; negative before the dose")
    words: str


class ResponseOut(Schema):
    id: int
    instrument: str
    definition_version: str
    taken_at: datetime
    source: str
    answers: dict[str, Any]
    total: float | None
    severity: str
    flags: list[str]
    entered_in_error: bool
    session_id: int | None = Field(None, description="the dosing session it belongs to")
    since_dose: SinceDoseOut | None = Field(
        None, description="the session's dose, or else the nearest dose in time")


class ResponsePage(Schema):
    count: int
    page: int
    pages: int
    results: list[ResponseOut]


class AlertOut(Schema):
    kind: str
    label: str


class RecordedOut(Schema):
    response: ResponseOut
    alerts: list[AlertOut]
    crisis: bool


class OutcomeOut(Schema):
    instrument: str
    baseline_total: float | None
    latest_total: float | None
    latest_at: datetime | None
    reduction_pct: float | None
    response_now: bool
    remission_now: bool
    ever_responded: bool
    time_to_response_days: float | None
    relapsed: bool
    durability_days: float | None
    relief_fading: bool
    rules: dict[str, str]
    current_rules: bool


def _response_out(response: Response) -> dict:
    return {"id": response.pk, "instrument": response.instrument,
            "definition_version": response.definition_version, "taken_at": response.taken_at,
            "source": response.source, "answers": response.answers, "total": response.total,
            "severity": response.severity, "flags": response.flags,
            "entered_in_error": response.entered_in_error_at is not None,
            "session_id": response.session_id, "since_dose": _since_dose_out(response)}


def _since_dose_out(response: Response) -> dict | None:
    found = getattr(response, "since_dose", None)
    if found is None:
        return None
    dose = found.dose
    return {"dose": {"session_id": dose.session_id, "given_at": dose.given_at,
                     "protocol": dose.protocol, "protocol_label": dose.protocol_label,
                     "route": dose.route},
            "minutes": found.minutes, "words": found.words}


@router.get("/instruments")
@require(Action.SELF_VIEW)
def list_instruments(request: HttpRequest):
    """Every questionnaire kapclinic scores (shipped and the clinic's own folder)."""
    return instruments.list_instruments()


@router.post("/instruments/{instrument}/score")
@require(Action.SELF_VIEW)
def score(request: HttpRequest, instrument: str, payload: ScoreIn):
    """Score answers without storing them (no patient): total, band, flags, missing items."""
    try:
        return instruments.score(instrument, payload.answers, prorate=payload.prorate,
                                 sex=payload.sex).to_dict()
    except instruments.UnknownInstrumentError as exc:
        raise field_refusal("instrument", str(exc)) from exc
    except instruments.AnswerError as exc:
        raise field_refusal(f"answers.{exc.item}", str(exc)) from exc
    except instruments.SettingError as exc:
        raise field_refusal("sex", str(exc)) from exc


@router.get("/patients/{patient_id}/responses", response=ResponsePage)
@require(Action.PATIENT_VIEW)
def list_responses(request: HttpRequest, patient_id: int, instrument: str = "",
                   page: int = Query(1, ge=1, le=MAX_PAGE)):
    """The patient's questionnaires, newest first (entered-in-error ones marked, not hidden)."""
    patient = get_patient_for_user(request, patient_id, Action.PATIENT_VIEW)
    found = Response.objects.filter(patient=patient)
    if instrument:
        found = found.filter(instrument=instrument)
    size = settings.KAPCLINIC_PAGE_SIZE
    count = found.count()
    results = list(found[(page - 1) * size: page * size])
    if results:  # time since the nearest dose: the patient's doses in one read
        since_dose.annotate(results, ext.doses_of([patient.pk]).get(patient.pk, []),
                            since_dose.clinic_zone(request, patient))
    trail.record_many([trail.Event("list", "response", r.pk, patient_id=patient.pk)
                       for r in results])
    return {"count": count, "page": page, "pages": max(1, -(-count // size)),
            "results": [_response_out(r) for r in results]}


@router.post("/patients/{patient_id}/responses", response={201: RecordedOut})
@require(Action.MEASURE_ENTER)
def record(request: HttpRequest, patient_id: int, payload: RecordIn):
    """Record a questionnaire given in clinic: scored with the clinic's settings; an answer
    that raises an alert raises it here as in the app."""
    patient = get_patient_for_user(request, patient_id, Action.MEASURE_ENTER, audit_read=False)
    try:
        instruments.get_instrument(payload.instrument)
        recorded = actions.record_response(patient=patient, instrument=payload.instrument,
                                           answers=payload.answers, source="clinic",
                                           by=request.user, taken_at=payload.taken_at)
    except instruments.UnknownInstrumentError as exc:
        raise field_refusal("instrument", str(exc)) from exc
    except instruments.AnswerError as exc:
        raise field_refusal(f"answers.{exc.item}", str(exc)) from exc
    except actions.WhenError as exc:
        raise field_refusal(exc.field, str(exc)) from exc
    return Reply(201, {"response": _response_out(recorded.response),
                       "alerts": [{"kind": a.kind, "label": a.label} for a in recorded.alerts],
                       "crisis": recorded.crisis})


@router.get("/patients/{patient_id}/outcomes", response=list[OutcomeOut])
@require(Action.PATIENT_VIEW)
def list_outcomes(request: HttpRequest, patient_id: int):
    """The patient's outcome per instrument, with the rule versions that produced it."""
    patient = get_patient_for_user(request, patient_id, Action.PATIENT_VIEW)
    version = actions.settings_for(patient.clinic_id).outcome_version
    snapshots = list(OutcomeSnapshot.objects.filter(patient=patient).order_by("instrument"))
    trail.record_many([trail.Event("read", "outcome", s.pk, patient_id=patient.pk)
                       for s in snapshots])
    return [{**{name: getattr(s, name) for name in OutcomeOut.model_fields
                if hasattr(s, name)},
             "rules": s.summary.get("rules", {}), "current_rules": s.settings_version == version}
            for s in snapshots]
