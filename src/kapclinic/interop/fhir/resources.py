"""kapclinic's records as FHIR R4 resources (JSON-ready dicts): the only place their shapes live.

Each function takes one stored record (with what it needs already fetched) and returns one
resource, or for a vital-sign reading, several. Ids are the records' own, so a resource read
twice, or exported twice, is the same resource. A record marked entered in error is sent with
FHIR's ``entered-in-error`` status, never dropped, where the resource type has one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from kapclinic.clinical.codes import diagnoses
from kapclinic.clinical.instruments import get_instrument
from kapclinic.clinical.instruments.fhir import answer_coding
from kapclinic.clinical.monitoring.devices import field_code
from kapclinic.clinical.protocols import UnknownProtocolError
from kapclinic.clinical.protocols import resolve as resolve_protocol

from . import codes

PATIENT_GENDER = {"female": "female", "male": "male", "intersex": "other", "unknown": "unknown"}
# sex at birth in its own element (administrative gender is not it): US Core's birth sex
# extension, whose codes are F, M and UNK (it has none for intersex: then it is left out)
BIRTH_SEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
BIRTH_SEX_CODES = {"female": "F", "male": "M", "unknown": "UNK"}
# the sessions' states (clinical/sessions) as R4 Encounter statuses
ENCOUNTER_STATUS = {"scheduled": "planned", "checked_in": "arrived", "cleared": "in-progress",
                    "dosing": "in-progress", "monitoring": "in-progress", "discharged": "finished",
                    "cancelled": "cancelled", "stopped": "finished"}
# each vital-sign field of a reading: its piece of an Observation id and its FHIR shape
VITAL_PARTS = {"heart_rate_bpm": "hr", "resp_rate_per_min": "rr", "spo2_pct": "spo2",
               "temp_c": "temp", "moaas": "moaas"}
BP_FIELDS = ("sbp_mmhg", "dbp_mmhg")
# a depression diagnosed treatment-resistant has no code of its own (clinical.md 6.1): a note says so
TREATMENT_RESISTANT = "Treatment-resistant (two or more adequate trials failed)"


def instant(moment: datetime | None) -> str | None:
    """A stored time as FHIR dateTime/instant: UTC, to the second or finer, with its offset."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def ref(kind: str, pk: Any) -> dict[str, str]:
    return {"reference": f"{kind}/{pk}"}


def _meta(updated: datetime | None, profile: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if updated is not None:
        meta["lastUpdated"] = instant(updated)
    if profile:
        meta["profile"] = [profile]
    return meta


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def protocol_name(protocol_id: str) -> str:
    try:
        return resolve_protocol(protocol_id).model.label
    except UnknownProtocolError:  # a protocol since removed from the clinic's folder
        return protocol_id


def mrn_system(clinic_slug: str) -> str:
    """The identifier system of a clinic's medical record numbers."""
    return f"urn:kapclinic:clinic:{clinic_slug}:mrn"


# --- who and where -----------------------------------------------------------------------


def organization(clinic) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": str(clinic.pk),
            "identifier": [{"system": "urn:kapclinic:clinic", "value": clinic.slug}],
            "active": True, "name": clinic.name}


def practitioner(user) -> dict[str, Any]:
    name: dict[str, Any] = {"text": user.get_full_name() or user.username}
    if user.last_name:
        name["family"] = user.last_name
    if user.first_name:
        name["given"] = [user.first_name]
    return {"resourceType": "Practitioner", "id": str(user.pk), "active": bool(user.is_active),
            "name": [name]}


def patient(p, clinic_slug: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Patient", "id": str(p.pk), "meta": _meta(p.updated_at),
        **({"extension": [{"url": BIRTH_SEX, "valueCode": BIRTH_SEX_CODES[p.sex_at_birth]}]}
           if p.sex_at_birth in BIRTH_SEX_CODES else {}),
        "identifier": [{"use": "usual", "type": {"coding": [
            {"system": codes.system("identifier_type"), "code": "MR", "display": "Medical record number"}]},
            "system": mrn_system(clinic_slug), "value": p.mrn}],
        "active": p.status != "discharged",
        "name": [{"use": "official", "family": p.family_name, "given": [p.given_name]}],
        "gender": PATIENT_GENDER.get(p.sex_at_birth, "unknown"),
        "birthDate": day(p.date_of_birth),
        "managingOrganization": ref("Organization", p.clinic_id),
    }
    telecom = [{"system": kind, "value": value} for kind, value in (("phone", p.phone), ("email", p.email))
               if value]
    if telecom:
        out["telecom"] = telecom
    if p.address:
        out["address"] = [{"text": p.address}]
    if p.emergency_contact_name or p.emergency_contact_phone:
        contact: dict[str, Any] = {"relationship": [{"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "C",
             "display": "Emergency Contact"}]}]}
        if p.emergency_contact_relationship:
            contact["relationship"].append({"text": p.emergency_contact_relationship})
        if p.emergency_contact_name:
            contact["name"] = {"text": p.emergency_contact_name}
        if p.emergency_contact_phone:
            contact["telecom"] = [{"system": "phone", "value": p.emergency_contact_phone}]
        out["contact"] = [contact]
    practitioners = [ref("Practitioner", pk) for pk in (p.prescriber_id, p.therapist_id) if pk]
    if practitioners:
        out["generalPractitioner"] = practitioners
    return out


# --- diagnoses -----------------------------------------------------------------------------


def condition(c) -> dict[str, Any]:
    in_error = c.entered_in_error_at is not None
    coded = [{"system": c.code_system, "code": c.code, "display": c.display}]
    found = diagnoses().get(c.code)
    group = next((g for g in diagnoses().groups if found is not None and g.id == found.group), None)
    verified = group is not None and group.snomed and not group.snomed_unverified
    if verified and not codes.snomed_withheld(c.code):  # (the group's label is no SNOMED display)
        coded.append({"system": codes.system("snomed"), "code": group.snomed})
    out: dict[str, Any] = {
        "resourceType": "Condition", "id": str(c.pk),
        "meta": _meta(_latest(c.recorded_at, c.entered_in_error_at)),
        "verificationStatus": {"coding": [{"system": codes.system("condition_verification"),
                                           "code": "entered-in-error" if in_error else "confirmed"}]},
        "category": [{"coding": [{"system": codes.system("condition_category"),
                                  "code": "problem-list-item", "display": "Problem List Item"}]}],
        "code": {"coding": coded, "text": c.display},
        "subject": ref("Patient", c.patient_id),
        "recordedDate": instant(c.recorded_at),
    }
    if not in_error:  # R4 con-5: no clinical status on an entered-in-error condition
        out["clinicalStatus"] = {"coding": [{"system": codes.system("condition_clinical"), "code": "active"}]}
    if c.treatment_resistant:
        out["note"] = [{"text": TREATMENT_RESISTANT}]
    return out


# --- courses and sessions ------------------------------------------------------------------


def episode_of_care(course) -> dict[str, Any]:
    ended = course.state == "ended"
    period: dict[str, Any] = {"start": day(course.first_dose_on)}
    if ended and course.ended_at is not None:
        period["end"] = instant(course.ended_at)
    out: dict[str, Any] = {
        "resourceType": "EpisodeOfCare", "id": str(course.pk),
        "meta": _meta(_latest(course.created_at, course.ended_at)),
        "status": "finished" if ended else "active",
        "type": [codes.local(f"kap-course-{course.protocol}".replace("_", "-"),
                             f"Ketamine-assisted psychotherapy course: {protocol_name(course.protocol)}")],
        "patient": ref("Patient", course.patient_id),
        "managingOrganization": ref("Organization", course.patient.clinic_id),
        "period": period,
    }
    if course.clinician_id:
        out["careManager"] = ref("Practitioner", course.clinician_id)
    return out


def encounter(s, started: datetime | None = None, ended: datetime | None = None) -> dict[str, Any]:
    """A dosing session; ``started``/``ended``: when it was checked in and ended, if it was."""
    status = ENCOUNTER_STATUS.get(s.state, "unknown")
    period: dict[str, Any] = {"start": instant(started or s.scheduled_at)}
    if ended is not None:
        period["end"] = instant(ended)
    out: dict[str, Any] = {
        "resourceType": "Encounter", "id": str(s.pk),
        "meta": _meta(_latest(s.created_at, s.state_at)),
        "status": status,
        "class": {"system": codes.system("encounter_class"), "code": "AMB", "display": "ambulatory"},
        "type": [codes.local(f"kap-dosing-{s.drug}-{s.route}",
                             f"{s.drug.capitalize()} dosing session ({s.route})")],
        "subject": ref("Patient", s.patient_id),
        "period": period,
        "serviceProvider": ref("Organization", s.patient.clinic_id),
    }
    if s.course_id:
        out["episodeOfCare"] = [ref("EpisodeOfCare", s.course_id)]
    if s.clinician_id:
        out["participant"] = [{"individual": ref("Practitioner", s.clinician_id)}]
    return out


def medication_administration(a, patient_id: int) -> dict[str, Any]:
    in_error = a.entered_in_error_at is not None
    if in_error:
        status = "entered-in-error"
    elif a.ended_at is None and a.route == "iv-infusion":
        status = "in-progress"
    else:
        status = "completed"
    medication: dict[str, Any] = {"resourceType": "Medication", "id": "drug",
                                  "code": codes.drug(a.drug, a.product_ndc)}
    if a.lot:
        medication["batch"] = {"lotNumber": a.lot}
    dosage: dict[str, Any] = {
        "route": codes.route(a.route),
        "dose": {"value": a.dose_mg, "unit": "mg", "system": codes.system("ucum"), "code": "mg"},
    }
    if a.dose_mg_per_kg is not None and a.weight_kg is not None:
        dosage["text"] = f"{a.dose_mg_per_kg:g} mg/kg at {a.weight_kg:g} kg"
    if a.rate_mg_per_min is not None:
        dosage["rateQuantity"] = {"value": a.rate_mg_per_min, "unit": "mg/min",
                                  "system": codes.system("ucum"), "code": "mg/min"}
    out: dict[str, Any] = {
        "resourceType": "MedicationAdministration", "id": str(a.pk),
        "meta": _meta(_latest(a.recorded_at, a.entered_in_error_at)),
        "contained": [medication],
        "status": status,
        "medicationReference": {"reference": "#drug"},
        "subject": ref("Patient", patient_id),
        "context": ref("Encounter", a.session_id),
        "performer": [{"actor": ref("Practitioner", a.administered_by_id)}],
        "dosage": dosage,
    }
    if a.ended_at is not None:
        out["effectivePeriod"] = {"start": instant(a.started_at), "end": instant(a.ended_at)}
    else:
        out["effectiveDateTime"] = instant(a.started_at)
    return out


# --- observations --------------------------------------------------------------------------


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": codes.system("ucum"), "code": unit}


@cache
def _concept(name: str) -> dict[str, Any]:
    """A vital's code as sent (shared between resources: never changed once made)."""
    code = field_code(name)
    coded = [{"system": code["system"], "code": code["code"], "display": code["display"]}]
    if name == "spo2_pct":  # FHIR core's SpO2 code first, pulse oximetry's beside it
        coded.insert(0, codes.vital("spo2_core"))
    return {"coding": coded, "text": code["display"]}


@cache
def _vital_constants() -> dict[str, Any]:
    return {"profile": [codes.vital_profile()], "vital": codes.category("vital-signs", "Vital Signs"),
            "exam": codes.category("exam", "Exam"),
            "bp": {"coding": [codes.vital("blood_pressure")], "text": "Blood pressure"},
            "units": {name: field_code(name)["unit"] for name in (*VITAL_PARTS, *BP_FIELDS)}}


def vital_observations(r, mdc: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One reading as R4 vital-sign Observations: blood pressure as one panel with its two
    components, every other value alone; LOINC and UCUM, and for a monitor's reading the MDC
    code it was sent with as an extra coding (``mdc``: field -> MDC code)."""
    mdc = mdc if mdc is not None else (getattr(r, "mdc_codes", None) or {})
    known = _vital_constants()
    units = known["units"]
    updated = instant(_latest(r.recorded_at, r.entered_in_error_at))
    common = {
        "status": "entered-in-error" if r.entered_in_error_at is not None else "final",
        "category": known["vital"],
        "subject": {"reference": f"Patient/{r.patient_id}"},
        "encounter": {"reference": f"Encounter/{r.session_id}"},
        "effectiveDateTime": instant(r.observed_at),
    }
    if r.source == "device" and r.device:
        common["device"] = {"display": r.device}

    def concept(name: str) -> dict[str, Any]:
        if not mdc.get(name):
            return _concept(name)
        shared = _concept(name)
        return {"coding": [*shared["coding"], {"system": codes.system("mdc"), "code": str(mdc[name])}],
                "text": shared["text"]}

    out = []
    prefix = f"vital-{r.pk}-"
    vital_meta = {"lastUpdated": updated, "profile": known["profile"]}
    pressures = [name for name in BP_FIELDS if getattr(r, name) is not None]
    if pressures:
        out.append({"resourceType": "Observation", "id": prefix + "bp", "meta": vital_meta, **common,
                    "code": known["bp"],
                    "component": [{"code": concept(name),
                                   "valueQuantity": _quantity(getattr(r, name), units[name])}
                                  for name in pressures]})
    for name, part in VITAL_PARTS.items():
        value = getattr(r, name)
        if value is None:
            continue
        if name == "moaas":  # a sedation score, not a vital sign: no vital-signs profile
            out.append({"resourceType": "Observation", "id": prefix + part, "meta": {"lastUpdated": updated},
                        **common, "category": known["exam"], "code": concept(name),
                        "valueInteger": int(value)})
            continue
        out.append({"resourceType": "Observation", "id": prefix + part, "meta": vital_meta, **common,
                    "code": concept(name), "valueQuantity": _quantity(value, units[name])})
    return out


def questionnaire_url(instrument: str) -> str:
    return f"urn:kapclinic:questionnaire:{instrument.replace('_', '-')}"


def questionnaire_response(resp) -> dict[str, Any]:
    definition = get_instrument(resp.instrument)
    items = []
    for item in definition.items:
        value = resp.answers.get(item.link_id) if isinstance(resp.answers, dict) else None
        if value is None or item.option(value) is None:
            continue
        items.append({"linkId": item.link_id, "answer": [{"valueCoding": answer_coding(item, value)}]})
    out: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse", "id": str(resp.pk),
        "meta": _meta(_latest(resp.taken_at, resp.entered_in_error_at)),
        "questionnaire": f"{questionnaire_url(resp.instrument)}|{resp.definition_version}",
        "status": "entered-in-error" if resp.entered_in_error_at is not None else "completed",
        "subject": ref("Patient", resp.patient_id),
        "authored": instant(resp.taken_at),
    }
    if resp.source == "clinic" and resp.entered_by_id:
        out["author"] = ref("Practitioner", resp.entered_by_id)
    else:
        out["author"] = ref("Patient", resp.patient_id)
    if resp.session_id:
        out["encounter"] = ref("Encounter", resp.session_id)
    if items:
        out["item"] = items
    return out


def score_observation(resp) -> dict[str, Any] | None:
    """An instrument's total as a survey Observation derived from its QuestionnaireResponse;
    None for an instrument with no total (a triage screener: its level is in the response)."""
    if resp.total is None:
        return None
    definition = get_instrument(resp.instrument)
    words = f"{definition.short_name} total score"
    total = definition.total_code
    if total is not None:
        code = {"coding": [{"system": total.system, "code": total.code, "display": total.display or words}],
                "text": words}
    else:
        code = codes.local(f"{resp.instrument.replace('_', '-')}-total", words)
    value = resp.total
    out: dict[str, Any] = {
        "resourceType": "Observation", "id": f"score-{resp.pk}",
        "meta": _meta(_latest(resp.taken_at, resp.entered_in_error_at)),
        "status": "entered-in-error" if resp.entered_in_error_at is not None else "final",
        "category": codes.category("survey", "Survey"),
        "code": code,
        "subject": ref("Patient", resp.patient_id),
        "effectiveDateTime": instant(resp.taken_at),
        "valueQuantity": {"value": int(value) if float(value).is_integer() else value, **codes.score_unit()},
        "derivedFrom": [ref("QuestionnaireResponse", resp.pk)],
    }
    if resp.severity:
        band = next((b for b in (definition.severity.bands if definition.severity else ())
                     if b.code == resp.severity), None)
        out["interpretation"] = [codes.local(f"{resp.instrument.replace('_', '-')}-{resp.severity}",
                                             band.label if band else resp.severity)]
    if resp.session_id:
        out["encounter"] = ref("Encounter", resp.session_id)
    return out


# --- consent and safety --------------------------------------------------------------------


def consent(c) -> dict[str, Any]:
    status = "inactive" if c.withdrawn_at is not None else "active"
    title = f"{c.document.title} (version {c.document.version})"
    out: dict[str, Any] = {
        "resourceType": "Consent", "id": str(c.pk),
        "meta": _meta(_latest(c.signed_at, c.withdrawn_at)),
        "status": status,
        "scope": {"coding": [{"system": codes.system("consent_scope"), "code": "treatment",
                              "display": "Treatment"}]},
        "category": [codes.local("kap-treatment-consent", "Consent to ketamine-assisted treatment")],
        "patient": ref("Patient", c.patient_id),
        "dateTime": instant(c.signed_at),
        "organization": [ref("Organization", c.document.clinic_id)],
        "policyRule": {"text": title},
        "sourceAttachment": {"title": title, "creation": instant(c.signed_at)},
    }
    if c.withdrawn_at is not None:
        out["provision"] = {"type": "deny", "period": {"start": instant(c.withdrawn_at)}}
    return out


SEVERITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
SERIOUSNESS_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def adverse_event(e) -> dict[str, Any]:
    """An adverse event; one entered in error is not sent (R4 AdverseEvent has no such status)."""
    out: dict[str, Any] = {
        "resourceType": "AdverseEvent", "id": str(e.pk),
        "meta": _meta(e.recorded_at),
        "actuality": "actual",
        "event": codes.local("ae-" + _slug(e.term), e.term),
        "subject": ref("Patient", e.patient_id),
        "recordedDate": instant(e.recorded_at),
        "seriousness": {"coding": [
            {"system": SERIOUSNESS_SYSTEM, "code": "serious", "display": "Serious"} if e.serious_criteria
            else {"system": SERIOUSNESS_SYSTEM, "code": "non-serious", "display": "Non-serious"}]},
    }
    if e.severity in ("mild", "moderate", "severe"):
        out["severity"] = {"coding": [{"system": SEVERITY_SYSTEM, "code": e.severity,
                                       "display": e.severity.capitalize()}]}
    if e.onset_at is not None:
        out["date"] = instant(e.onset_at)
    if e.session_id:
        out["encounter"] = ref("Encounter", e.session_id)
    if e.recorded_by_id:
        out["recorder"] = ref("Practitioner", e.recorded_by_id)
    return out
