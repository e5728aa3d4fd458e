"""FHIR import: a transaction Bundle (or an NDJSON file read as one) of Patient, Condition,
QuestionnaireResponse and Observation resources from another system, all or nothing.

Everything is checked before anything is written; each refusal names the element at fault
(``Bundle.entry[2].resource.birthDate``) and how to fix it. Records are matched so a re-import
creates nothing twice: a patient by their MRN in the clinic, a diagnosis by patient and code, a
questionnaire by patient, instrument and time answered. What is written goes through the app's
own actions (the same checks and audit entries as typed records), and each imported record gets
an audit entry naming where it came from. An Observation is taken only as the total of a
QuestionnaireResponse in the same Bundle, and only when kapclinic's score of the answers agrees
with it (kapclinic scores the answers itself); vital signs belong to a dosing session and are
refused with that reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts import scoping
from kapclinic.audit import trail
from kapclinic.clinical.codes import diagnoses
from kapclinic.clinical.instruments import get_instrument
from kapclinic.clinical.instruments.errors import DefinitionError
from kapclinic.measures import actions as measures
from kapclinic.measures.models import Response
from kapclinic.patients import actions as patients
from kapclinic.patients.forms import EDITABLE_FIELDS, PatientForm
from kapclinic.patients.models import Condition, Patient
from kapclinic.treatment.checks import CLOCK_SKEW

from .resources import BIRTH_SEX, TREATMENT_RESISTANT, mrn_system

MAX_ENTRIES = 1_000  # an engineering bound: one request's work
MAX_FILE_BYTES = 20 * 2**20  # an engineering bound on a file given to `kapclinic fhir import`
ACCEPTED = ("Patient", "Condition", "QuestionnaireResponse", "Observation")
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
QUESTIONNAIRE_PREFIX = "urn:kapclinic:questionnaire:"
BIRTH_SEX_CODES = {"F": "female", "M": "male", "UNK": "unknown"}


@dataclass
class Refusal(Exception):
    """Why the import was refused: each problem with the element it is about."""

    issues: list[tuple[str, str]]  # (FHIRPath expression, message)


@dataclass
class Entry:
    index: int
    resource: dict[str, Any]
    full_url: str = ""
    ndjson: bool = False  # a line of an NDJSON file, not an entry of a Bundle

    def at(self, element: str = "") -> str:
        where = f"line {self.index + 1}: {self.resource.get('resourceType', 'resource')}" if self.ndjson \
            else f"Bundle.entry[{self.index}].resource"
        return where + (f".{element}" if element else "")


@dataclass
class Imported:
    """What each entry became: (resource type, kapclinic id, created or matched)."""

    outcomes: list[tuple[str, int | str, bool]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)


def entries_of(document: Any) -> list[Entry]:
    """The entries of a transaction Bundle, or of a list of resources (an NDJSON file)."""
    if isinstance(document, list):
        for i, resource in enumerate(document):
            if not isinstance(resource, dict):
                raise Refusal([(f"line {i + 1}", "is not a FHIR resource (a JSON object)")])
        return [Entry(i, r, ndjson=True) for i, r in enumerate(document)]
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        raise Refusal([("Bundle", "send a Bundle of type transaction")])
    if document.get("type") != "transaction":
        raise Refusal([("Bundle.type", f"is '{str(document.get('type'))[:30]}': kapclinic imports a "
                                       "transaction Bundle (all or nothing)")])
    raw = document.get("entry") or []
    if not isinstance(raw, list) or not raw:
        raise Refusal([("Bundle.entry", "the Bundle has no entries")])
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("resource"), dict):
            raise Refusal([(f"Bundle.entry[{i}]", "each entry holds a resource")])
        request = item.get("request") if isinstance(item.get("request"), dict) else {}
        method = request.get("method", "POST")
        if method not in ("POST", "PUT"):
            raise Refusal([(f"Bundle.entry[{i}].request.method",
                            f"is {str(method)[:10]}: an import creates or matches records (POST or PUT)")])
        out.append(Entry(i, item["resource"], str(item.get("fullUrl") or "")))
    return out


def read_file(text: str) -> Any:
    """A Bundle (JSON), or resources one per line (NDJSON), as entries_of reads them."""
    if "\x00" in text or "\\u0000" in text:
        raise Refusal([("Bundle", "the text holds a NUL character, which no FHIR value may hold")])
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return whole if whole.get("resourceType") == "Bundle" else [whole]
    resources = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and len(resources) >= MAX_ENTRIES:
            raise Refusal([(f"line {number}", f"the file holds more than {MAX_ENTRIES} resources: split "
                                              "it into several")])
        if line.strip():
            try:
                resources.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise Refusal([(f"line {number}", f"is not a JSON resource ({exc.msg})")]) from None
    if not resources:
        raise Refusal([("Bundle", "the file is empty: send a transaction Bundle or NDJSON")])
    return resources


# --- the checks: nothing is written until every entry passes ---------------------------------


@dataclass
class Plan:
    patients: dict[str, tuple[Entry, dict[str, Any]]] = field(default_factory=dict)  # by fullUrl / MRN
    # entry, patient key, code, treatment-resistant, when recorded
    conditions: list[tuple[Entry, str, str, bool, datetime | None]] = field(default_factory=list)
    responses: list[tuple[Entry, str, str, dict[str, int], datetime]] = field(default_factory=list)
    # a questionnaire's total: the Observation entry, its response's entry, and the total sent
    totals: list[tuple[Entry, Entry, float]] = field(default_factory=list)


def plan_of(entries: list[Entry], clinic) -> Plan:
    if len(entries) > MAX_ENTRIES:
        raise Refusal([("Bundle.entry", f"holds {len(entries)} entries: send at most {MAX_ENTRIES} "
                                        "a Bundle (split the rest)")])
    issues: list[tuple[str, str]] = []
    plan = Plan()
    planners = {"Patient": _plan_patient, "Condition": _plan_condition,
                "QuestionnaireResponse": _plan_response,
                "Observation": lambda entry, clinic, plan, issues: _plan_total(entry, entries, plan, issues)}
    # patients first (the others refer to them), totals last (they refer to responses)
    for kinds in (("Patient",), ("Condition", "QuestionnaireResponse"), ("Observation",)):
        for entry in entries:
            kind = entry.resource.get("resourceType")
            if kind not in ACCEPTED:
                if kinds[0] == "Patient":
                    issues.append((entry.at("resourceType"), f"is {str(kind)[:40]}: kapclinic imports "
                                                              f"{', '.join(ACCEPTED)}"))
                continue
            if kind not in kinds:
                continue
            try:
                planners[kind](entry, clinic, plan, issues)
            except (AttributeError, TypeError, KeyError, ValueError):  # an element of the wrong shape
                issues.append((entry.at(), f"is not a {kind} as FHIR R4 shapes it (an element holds the "
                                           "wrong kind of value): check it against the R4 specification"))
    if issues:
        raise Refusal(issues)
    return plan


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _first_text(items: Any, key: str = "text") -> str:
    first = items[0] if isinstance(items, list) and items else {}
    return _text(first.get(key)) if isinstance(first, dict) else ""


def _mrn_of(r: dict[str, Any], clinic) -> tuple[str, bool] | None:
    """The MRN the resource carries, and whether it is in this clinic's own MRN system (an MRN of
    another system is kapclinic's only for a patient new here)."""
    ours, others = [], []
    for identifier in r.get("identifier") or []:
        if not isinstance(identifier, dict) or not _text(identifier.get("value")):
            continue
        if identifier.get("system") == mrn_system(clinic.slug):
            ours.append(_text(identifier["value"]))
        elif any(isinstance(c, dict) and c.get("code") == "MR"
                 for c in (identifier.get("type") or {}).get("coding", []) or []):
            others.append(_text(identifier["value"]))
    if ours:
        return ours[0], True
    return (others[0], False) if others else None


def _sex_at_birth(r: dict[str, Any]) -> str:
    """Sex at birth from the US Core birth sex extension only: administrative gender is not sex
    at birth (which scoring reads), so a Patient without the extension is recorded unknown."""
    for extension in r.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == BIRTH_SEX:
            return BIRTH_SEX_CODES.get(extension.get("valueCode"), "unknown")
    return "unknown"


def _plan_patient(entry: Entry, clinic, plan: Plan, issues: list) -> None:
    r = entry.resource
    found = _mrn_of(r, clinic)
    if found is None:
        issues.append((entry.at("identifier"), "needs the medical record number: an identifier of type "
                                               f"MR, or of kapclinic's MRN system {mrn_system(clinic.slug)}"))
        return
    mrn, ours = found
    if "\x00" in mrn:
        issues.append((entry.at("identifier"), "the MRN holds a NUL character: send it as plain text"))
        return
    if f"mrn:{mrn}" in plan.patients:
        issues.append((entry.at("identifier"), f"MRN {mrn[:32]} is already a Patient of this Bundle: send "
                                               "each patient once"))
        return
    names = r.get("name") if isinstance(r.get("name"), list) else []
    name = names[0] if names and isinstance(names[0], dict) else {}
    given = name.get("given") if isinstance(name.get("given"), list) else []
    telecom = {t.get("system"): _text(t.get("value")) for t in r.get("telecom") or [] if isinstance(t, dict)}
    contacts = r.get("contact") if isinstance(r.get("contact"), list) else []
    contact = contacts[0] if contacts and isinstance(contacts[0], dict) else {}
    relationship = [x.get("text") for x in contact.get("relationship") or [] if isinstance(x, dict)
                    and x.get("text")]
    data = {
        "mrn": mrn, "given_name": _text(given[0]) if given else "",
        "family_name": _text(name.get("family")), "date_of_birth": _text(r.get("birthDate")),
        "sex_at_birth": _sex_at_birth(r), "status": "referred",
        "phone": telecom.get("phone", ""), "email": telecom.get("email", ""),
        "address": _first_text(r.get("address")),
        "emergency_contact_name": _text((contact.get("name") or {}).get("text"))
        if isinstance(contact.get("name"), dict) else "",
        "emergency_contact_relationship": _text(relationship[0]) if relationship else "",
        "emergency_contact_phone": _first_text(contact.get("telecom"), "value"),
        "prescriber": "", "therapist": "",
    }
    existing = scoping.for_clinic(Patient, clinic.pk).filter(mrn=mrn).first()
    if existing is not None:
        # the same MRN is the same patient only if the name and birth date agree: another
        # system's MRN may be someone else's here, and a changed patient is not overwritten
        same = (existing.family_name.casefold() == data["family_name"].casefold()
                and existing.given_name.casefold() == data["given_name"].casefold()
                and existing.date_of_birth.isoformat() == data["date_of_birth"])
        if not same:
            where = "" if ours else " (sent as another system's MRN)"
            issues.append((entry.at("identifier"), f"MRN {mrn[:32]}{where} is a patient here whose name or "
                                                   "birth date differ: check the MRN; kapclinic does not "
                                                   "change a patient's details by import"))
            return
    else:
        form = PatientForm({k: data[k] for k in EDITABLE_FIELDS}, clinic=clinic)
        if not form.is_valid():
            element = {"mrn": "identifier", "given_name": "name[0].given", "family_name": "name[0].family",
                       "date_of_birth": "birthDate", "phone": "telecom", "email": "telecom",
                       "address": "address"}
            for name_, messages in form.errors.items():
                issues.append((entry.at(element.get(name_, "contact")), " ".join(messages)))
            return
        data = {k: form.cleaned_data[k] for k in EDITABLE_FIELDS}
    for key in (entry.full_url, f"Patient/{r.get('id')}" if r.get("id") else "", f"mrn:{mrn}"):
        if key:
            plan.patients[str(key)] = (entry, data)


def _patient_key(entry: Entry, element: str, clinic, plan: Plan, issues: list) -> str | None:
    """The subject as a key of the plan's patients, or of a patient already in the clinic."""
    target = entry.resource.get(element) or {}
    reference = target.get("reference", "") if isinstance(target, dict) else ""
    reference = reference if isinstance(reference, str) else ""
    if reference in plan.patients:
        return reference
    identifier = target.get("identifier") if isinstance(target, dict) else None
    if isinstance(identifier, dict) and _text(identifier.get("value")) and \
            identifier.get("system") == mrn_system(clinic.slug):
        mrn = _text(identifier["value"])
        if f"mrn:{mrn}" in plan.patients or scoping.for_clinic(Patient, clinic.pk).filter(mrn=mrn).exists():
            return f"mrn:{mrn}"
    issues.append((entry.at(element), "names no patient of this Bundle or clinic: refer to a Patient "
                                      "entry by its fullUrl, or by identifier (the MRN, in system "
                                      f"{mrn_system(clinic.slug)})"))
    return None


def _codes(value: Any) -> list[dict[str, Any]]:
    """The codings of a CodeableConcept, whatever was sent in its place."""
    codings = value.get("coding") if isinstance(value, dict) else None
    return [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []


def _status(value: Any) -> str:
    return next((str(c.get("code")) for c in _codes(value) if c.get("code")), "")


def _plan_condition(entry: Entry, clinic, plan: Plan, issues: list) -> None:
    r = entry.resource
    key = _patient_key(entry, "subject", clinic, plan, issues)
    icd = next((c for c in _codes(r.get("code")) if c.get("system") == ICD10CM), None)
    if icd is None:
        issues.append((entry.at("code.coding"), f"needs an ICD-10-CM code (system {ICD10CM})"))
        return
    found = diagnoses().get(_text(icd.get("code")))
    if found is None or not found.billable:
        issues.append((entry.at("code.coding"), f"'{_text(icd.get('code'))[:12]}' is not an ICD-10-CM "
                                                "diagnosis code (a heading has codes below it)"))
        return
    # kapclinic's problem list holds current, confirmed diagnoses: anything else is refused by name,
    # never stored as if it were one
    verification = _status(r.get("verificationStatus"))
    if verification == "entered-in-error":
        return  # withdrawn by its sender (kapclinic's own export sends these too): nothing to record
    if verification not in ("", "confirmed"):
        issues.append((entry.at("verificationStatus"), f"is {verification[:20]}: kapclinic records confirmed "
                                                       "diagnoses only; leave this one out of the Bundle"))
        return
    clinical = _status(r.get("clinicalStatus"))
    if clinical not in ("", "active", "recurrence", "relapse"):
        issues.append((entry.at("clinicalStatus"), f"is {clinical[:20]}: kapclinic records current "
                                                   "diagnoses only; leave this one out of the Bundle"))
        return
    notes = r.get("note") if isinstance(r.get("note"), list) else []
    resistant = any(isinstance(n, dict) and n.get("text") == TREATMENT_RESISTANT for n in notes)
    if resistant and not found.code.startswith(("F32", "F33")):
        issues.append((entry.at("note"), "only a depression (F32, F33) can be treatment-resistant"))
        return
    recorded = None
    if r.get("recordedDate") is not None:
        recorded = _moment(r.get("recordedDate"), dates=True)
        if recorded is None or recorded > timezone.now():
            issues.append((entry.at("recordedDate"), "is not a date or time that has passed "
                                                     "(2026-11-30 or 2026-11-30T09:00:00Z)"))
            return
    if key is not None:
        plan.conditions.append((entry, key, found.code, resistant, recorded))


def _plan_response(entry: Entry, clinic, plan: Plan, issues: list) -> None:
    r = entry.resource
    key = _patient_key(entry, "subject", clinic, plan, issues)
    canonical = _text(r.get("questionnaire")).split("|", 1)[0]
    instrument = canonical.removeprefix(QUESTIONNAIRE_PREFIX).replace("-", "_")
    try:
        if not canonical.startswith(QUESTIONNAIRE_PREFIX):
            raise DefinitionError(canonical)
        definition = get_instrument(instrument)
    except (DefinitionError, LookupError, ValueError):
        issues.append((entry.at("questionnaire"), f"'{canonical[:80]}' is not a questionnaire kapclinic "
                                                  f"scores (write {QUESTIONNAIRE_PREFIX}<instrument>)"))
        return
    if r.get("status") not in ("completed", "amended"):
        issues.append((entry.at("status"), "only a completed questionnaire is imported"))
        return
    taken_at = _moment(r.get("authored"))
    if taken_at is None or taken_at > timezone.now() + CLOCK_SKEW:
        issues.append((entry.at("authored"), "needs the date and time it was answered, with its zone, "
                                             "not in the future (2026-11-30T09:00:00Z)"))
        return
    items = r.get("item") if isinstance(r.get("item"), list) else []
    if not items:
        issues.append((entry.at("item"), "holds no answers: there is nothing to score"))
        return
    answers: dict[str, int] = {}
    for n, item in enumerate(items):
        at = f"item[{n}]"
        found = definition.item(str(item.get("linkId", ""))) if isinstance(item, dict) else None
        if found is None:
            issues.append((entry.at(f"{at}.linkId"), f"is not an item of {definition.short_name}"))
            continue
        given = item.get("answer") if isinstance(item.get("answer"), list) else []
        value = _answer_value(found, given[0]) if given and isinstance(given[0], dict) else None
        if value is None:
            issues.append((entry.at(f"{at}.answer[0]"), f"is not one of item {found.link_id}'s answers"))
            continue
        answers[found.link_id] = value
    if key is not None:
        plan.responses.append((entry, key, instrument, answers, taken_at))


def _plan_total(entry: Entry, entries: list[Entry], plan: Plan, issues: list) -> None:
    """An Observation is taken only as the total of a QuestionnaireResponse of the same Bundle
    (derivedFrom): kapclinic scores the answers itself, and the total sent must agree."""
    r = entry.resource
    derived = r.get("derivedFrom") if isinstance(r.get("derivedFrom"), list) else []
    refs = {d.get("reference") for d in derived
            if isinstance(d, dict) and isinstance(d.get("reference"), str)}
    source = next((e for e in entries if e.resource.get("resourceType") == "QuestionnaireResponse"
                   and (e.full_url in refs or f"QuestionnaireResponse/{e.resource.get('id')}" in refs)), None)
    survey = any(c.get("code") == "survey" for cat in r.get("category") or [] if isinstance(cat, dict)
                 for c in _codes(cat))
    value = (r.get("valueQuantity") or {}).get("value") if isinstance(r.get("valueQuantity"), dict) else None
    if not survey or source is None or not isinstance(value, int | float):
        issues.append((entry.at(), "an Observation is imported only as a questionnaire's total "
                                   "(category survey, a valueQuantity) derived from a QuestionnaireResponse "
                                   "of the same Bundle: kapclinic scores the answers itself; vital signs are "
                                   "recorded in a dosing session"))
        return
    if r.get("status") == "entered-in-error":
        return
    plan.totals.append((entry, source, float(value)))


def _moment(text: Any, *, dates: bool = False) -> datetime | None:
    """A FHIR dateTime with its zone (or, with ``dates``, a day: its start in UTC), or None."""
    value = _text(text)
    if dates and re.fullmatch(r"\d{4}(-\d{2}){0,2}", value):  # a year, a month or a day: its start
        value = (value + "-01-01"[len(value) - 4:]) + "T00:00:00+00:00"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else None


def _answer_value(item, answer: dict[str, Any]) -> int | None:
    if isinstance(answer.get("valueInteger"), int):
        value = answer["valueInteger"]
        return value if item.option(value) is not None else None
    coding = answer.get("valueCoding")
    if not isinstance(coding, dict):
        return None
    for option in item.options:
        if option.code is not None and coding.get("code") == option.code.code and \
                coding.get("system") in (None, option.code.system):
            return option.value
        if option.code is None and coding.get("code") == str(option.value):
            return option.value
    return None


# --- the writes: one transaction -----------------------------------------------------------------


def import_resources(document: Any, *, clinic, by, source: str) -> Imported:
    """Check every entry, then write them all in one transaction (or nothing: ``Refusal``)."""
    plan = plan_of(entries_of(document), clinic)
    done = Imported()
    with transaction.atomic():
        patients_by_key: dict[str, Patient] = {}
        made: dict[int, Patient] = {}
        for key, (entry, data) in plan.patients.items():
            if id(entry) in made:
                patients_by_key[key] = made[id(entry)]
                continue
            existing = scoping.for_clinic(Patient, clinic.pk).filter(mrn=data["mrn"]).first()
            patient = existing or patients.create_patient(clinic=clinic, data=data, by=by)
            made[id(entry)] = patient
            patients_by_key[key] = patient
            _note(done, "Patient", patient.pk, existing is None, patient.pk, source, entry)
        for entry, key, code, resistant, recorded in plan.conditions:
            patient = patients_by_key.get(key) or _by_mrn(clinic, key)
            existing = Condition.objects.filter(patient=patient, code=code,
                                                entered_in_error_at__isnull=True).first()
            condition = existing or patients.add_condition(
                patient=patient, code=code, by=by, treatment_resistant=resistant, recorded_at=recorded)
            _note(done, "Condition", condition.pk, existing is None, patient.pk, source, entry)
        scored: dict[int, Response] = {}
        for entry, key, instrument, answers, taken_at in plan.responses:
            patient = patients_by_key.get(key) or _by_mrn(clinic, key)
            existing = Response.objects.filter(patient=patient, instrument=instrument, taken_at=taken_at,
                                               entered_in_error_at__isnull=True).first()
            response = existing or measures.record_response(
                patient=patient, instrument=instrument, answers=answers, source="clinic", by=by,
                taken_at=taken_at).response
            scored[id(entry)] = response
            _note(done, "QuestionnaireResponse", response.pk, existing is None, patient.pk, source, entry)
        for entry, answered, total in plan.totals:
            response = scored.get(id(answered))
            if response is None:  # its response was not imported (withdrawn): neither is its total
                continue
            if response.total is None or abs(response.total - total) > 1e-9:
                # the whole Bundle is undone: a total kapclinic does not reach is not stored beside it
                raise Refusal([(entry.at("valueQuantity.value"),
                                f"is {total:g}, but the answers of its QuestionnaireResponse score "
                                f"{'no total' if response.total is None else f'{response.total:g}'} here: "
                                "check the answers or leave the total out")])
            done.outcomes.append(("Observation", f"score-{response.pk}", False))
    return done


def _by_mrn(clinic, key: str) -> Patient:
    return scoping.for_clinic(Patient, clinic.pk).get(mrn=key.removeprefix("mrn:"))


def _note(done: Imported, kind: str, pk: int, created: bool, patient_id: int, source: str,
          entry: Entry) -> None:
    done.outcomes.append((kind, pk, created))
    trail.record("import", object_type=kind.lower() if kind != "QuestionnaireResponse" else "response",
                 object_id=pk, patient_id=patient_id,
                 detail={"source": source[:200], "created": created, "entry": entry.index,
                         "sent_id": str(entry.resource.get("id", ""))[:64]})


def outcomes_bundle(done: Imported, base: str) -> dict[str, Any]:
    """The transaction-response Bundle: each entry's status and where it lives now."""
    return {"resourceType": "Bundle", "type": "transaction-response",
            "entry": [{"response": {"status": "201 Created" if created else "200 OK",
                                    "location": f"{base}/{kind}/{pk}"}}
                      for kind, pk, created in done.outcomes]}


def as_issues(refusal: Refusal) -> Iterable[dict[str, Any]]:
    for expression, message in refusal.issues[:100]:
        yield {"severity": "error", "code": "invalid", "diagnostics": message,
               "details": {"text": message}, "expression": [expression]}

