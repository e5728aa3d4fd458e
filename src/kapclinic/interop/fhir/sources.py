"""Where each FHIR resource type comes from: the stored records, how they are found and rendered.

A ``Source`` is one model feeding one resource type (Observation has two: vital-sign readings
and questionnaire totals). It knows the permission that reads it, how a row reaches its
patient, which time the ``date`` search reads, which times say it last changed, and how a
batch of rows becomes resources (fetching what they refer to in a query or two, never one
per row). Lists always go through the clinic scoping layer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

from kapclinic.accounts import scoping
from kapclinic.accounts.models import Clinic, Membership, User
from kapclinic.accounts.permissions import Action
from kapclinic.clinical.monitoring.devices import field_code
from kapclinic.measures.models import Response
from kapclinic.patients.models import Condition, Patient
from kapclinic.screening.models import Consent
from kapclinic.treatment.ae_models import AdverseEvent
from kapclinic.treatment.course_models import Course
from kapclinic.treatment.models import ENDED, Administration, Session, SessionEvent, VitalReading

from . import resources as fhir

Render = Callable[[list[Any]], list[list[dict[str, Any]]]]


def _number(text: str) -> int | None:
    return int(text) if re.fullmatch(r"[0-9]{1,18}", text or "") else None


@dataclass(frozen=True)
class Source:
    resource: str                   # the FHIR type it feeds
    model: type
    action: Action                  # the permission that reads it
    patient: str                    # the lookup from a row to its patient's id
    render: Render                  # rows -> each row's resources
    date: str | None = None         # what `date` searches
    updated: tuple[str, ...] = ()   # the times that say it changed (`_lastUpdated`, `_since`)
    related: tuple[str, ...] = ()   # select_related
    scope: Callable[[QuerySet], QuerySet] = lambda rows: rows  # rows never sent (e.g. in error)
    codes: Callable[[str, str], Q | None] | None = None  # system, code -> rows that can match
    ids: Callable[[str], Any] = field(default=lambda text: _number(text))

    def rows(self, clinic_id: int) -> QuerySet:
        rows = scoping.for_clinic(self.model, clinic_id)
        if self.related:
            rows = rows.select_related(*self.related)
        return self.scope(rows)

    @property
    def record_type(self) -> str:
        return scoping.record_type(self.model)


def _each(render_one: Callable[[Any], dict[str, Any] | list[dict[str, Any]] | None]) -> Render:
    def render(rows: list[Any]) -> list[list[dict[str, Any]]]:
        out = []
        for row in rows:
            made = render_one(row)
            out.append(made if isinstance(made, list) else ([made] if made else []))
        return out
    return render


# --- per type ------------------------------------------------------------------------------


def _patients(rows: list[Patient]) -> list[list[dict[str, Any]]]:
    slugs = dict(Clinic.objects.filter(pk__in={p.clinic_id for p in rows}).values_list("pk", "slug"))
    return [[fhir.patient(p, slugs[p.clinic_id])] for p in rows]


def _encounters(rows: list[Session]) -> list[list[dict[str, Any]]]:
    """Sessions with when they were checked in and when they ended, from their steps."""
    started: dict[int, Any] = {}
    ended: dict[int, Any] = {}
    steps = (SessionEvent.objects.filter(session_id__in=[s.pk for s in rows])
             .filter(Q(to_state="checked_in") | Q(to_state__in=ENDED))
             .order_by("at", "id").values_list("session_id", "to_state", "at"))
    for session_id, state, at in steps:
        if state == "checked_in":
            started.setdefault(session_id, at)
        else:
            ended[session_id] = at
    return [[fhir.encounter(s, started.get(s.pk), ended.get(s.pk) if s.state in ENDED else None)]
            for s in rows]


def _administrations(rows: list[Administration]) -> list[list[dict[str, Any]]]:
    return [[fhir.medication_administration(a, a.session.patient_id)] for a in rows]


def _responses(rows: list[Response]) -> list[list[dict[str, Any]]]:
    return [[fhir.questionnaire_response(r)] for r in rows]


def _scores(rows: list[Response]) -> list[list[dict[str, Any]]]:
    out = []
    for r in rows:
        made = fhir.score_observation(r)
        out.append([made] if made else [])
    return out


def _vital_codes(system: str, code: str) -> Q | None:
    """The readings that can hold an observation with this code (a blood pressure panel, a
    component or a single vital)."""
    # the codes of the observations themselves: a blood pressure's 8480-6 and 8462-4 are its
    # components' (FHIR's component-code), so searching code for them finds nothing, at once
    fields = [name for name in fhir.VITAL_PARTS
              if field_code(name)["code"] == code and (not system or field_code(name)["system"] == system)]
    if code == "85354-9" and system in ("", "http://loinc.org"):
        fields = list(fhir.BP_FIELDS)
    if code == "2708-6" and system in ("", "http://loinc.org"):
        fields = ["spo2_pct"]
    if not fields:
        return Q(pk__in=[])
    query = Q()
    for name in fields:
        query |= Q(**{f"{name}__isnull": False})
    return query


def _score_codes(system: str, code: str) -> Q | None:
    from kapclinic.clinical.instruments.definitions import load_all

    wanted = [d.id for d in load_all().values()
              if (d.total_code is not None and d.total_code.code == code
                  and (not system or d.total_code.system == system))
              or (system in ("", fhir.codes.system("local")) and code == f"{d.id.replace('_', '-')}-total")]
    return Q(instrument__in=wanted)


def _condition_codes(system: str, code: str) -> Q:
    return Q(code=code) & (Q(code_system=system) if system else Q())


def _observation_id(prefix: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if not text.startswith(prefix):
            return None
        return _number(text[len(prefix):].split("-", 1)[0])
    return parse


def _total_rows(rows: QuerySet) -> QuerySet:
    return rows.filter(total__isnull=False)


def _not_in_error(rows: QuerySet) -> QuerySet:
    return rows.filter(entered_in_error_at__isnull=True)


def _clinic_users(clinic_id: int) -> QuerySet:
    """The clinic's staff: everyone with a role in it but the patients using the portal."""
    staff = Membership.objects.filter(clinic_id=clinic_id).exclude(role="patient")
    return User.objects.filter(memberships__in=staff).distinct()


SOURCES: dict[str, tuple[Source, ...]] = {
    "Patient": (Source("Patient", Patient, Action.PATIENT_VIEW, "pk", _patients,
                       date="date_of_birth", updated=("updated_at",)),),
    "Condition": (Source("Condition", Condition, Action.PATIENT_VIEW, "patient_id", _each(fhir.condition),
                         date="recorded_at", updated=("recorded_at", "entered_in_error_at"),
                         codes=_condition_codes),),
    "EpisodeOfCare": (Source("EpisodeOfCare", Course, Action.SESSION_VIEW, "patient_id",
                             _each(fhir.episode_of_care), date="first_dose_on",
                             updated=("created_at", "ended_at"), related=("patient",)),),
    "Encounter": (Source("Encounter", Session, Action.SESSION_VIEW, "patient_id", _encounters,
                         date="scheduled_at", updated=("created_at", "state_at"), related=("patient",)),),
    "MedicationAdministration": (Source(
        "MedicationAdministration", Administration, Action.SESSION_VIEW, "session__patient_id",
        _administrations, date="started_at", updated=("recorded_at", "entered_in_error_at"),
        related=("session",)),),
    "Observation": (
        Source("Observation", Response, Action.PATIENT_VIEW, "patient_id", _scores, date="taken_at",
               updated=("taken_at", "entered_in_error_at"), scope=_total_rows, codes=_score_codes,
               ids=_observation_id("score-")),
        Source("Observation", VitalReading, Action.SESSION_VIEW, "patient_id",
               _each(fhir.vital_observations), date="observed_at",
               updated=("recorded_at", "entered_in_error_at"), codes=_vital_codes,
               ids=_observation_id("vital-")),
    ),
    "QuestionnaireResponse": (Source("QuestionnaireResponse", Response, Action.PATIENT_VIEW, "patient_id",
                                     _responses, date="taken_at",
                                     updated=("taken_at", "entered_in_error_at")),),
    "Consent": (Source("Consent", Consent, Action.PATIENT_VIEW, "patient_id", _each(fhir.consent),
                       date="signed_at", updated=("signed_at", "withdrawn_at"),
                       related=("document",)),),
    "AdverseEvent": (Source("AdverseEvent", AdverseEvent, Action.PATIENT_VIEW, "patient_id",
                            _each(fhir.adverse_event), date="onset_at", updated=("recorded_at",),
                            scope=_not_in_error),),
}
# the types a patient's record holds, in the order $everything and a bulk export send them
PATIENT_TYPES = tuple(SOURCES)
# types about the clinic rather than one patient
CLINIC_TYPES = ("Organization", "Practitioner", "Questionnaire")
ALL_TYPES = (*CLINIC_TYPES, *PATIENT_TYPES)


def practitioners(clinic_id: int) -> QuerySet:
    return _clinic_users(clinic_id).order_by("pk")


def questionnaires() -> list[dict[str, Any]]:
    from kapclinic.clinical.instruments.definitions import load_all
    from kapclinic.clinical.instruments.fhir import to_fhir_questionnaire

    out = []
    for definition in sorted(load_all().values(), key=lambda d: d.id):
        q = to_fhir_questionnaire(definition)
        q["url"] = fhir.questionnaire_url(definition.id)
        out.append(q)
    return out


def patient_ids_of(source: Source, rows: list[Any]) -> list[int | None]:
    """Each row's patient id, from what was fetched (for the audit trail)."""
    out: list[int | None] = []
    for row in rows:
        value: Any = row
        for part in source.patient.split("__"):
            value = getattr(value, "pk" if part == "pk" else part, None)
        out.append(value)
    return out

