"""FHIR R4 Questionnaire export and import (plain dicts; no FHIR library needed at run time).

Export: every definition becomes an R4 Questionnaire. Scored answer options carry the R4
``ordinalValue`` extension (as NLM's LOINC-coded PHQ-9 does); a triage instrument's yes/no
options carry none (they are not scores); an option that means "not rated" is left out (an
unanswered item says the same). Item wording appears only where the definition ships it;
otherwise ``text`` is the item number and its short description from the reference.

Import: a Questionnaire whose choice items carry ordinal values (``ordinalValue``, R5
``itemWeight`` or ``iso21090-CO-value``) becomes a sum-scored definition: its items with
ordinals are summed, choice items without any ordinals are kept unscored, read-only or
calculated items (a published total) are skipped and listed. No severity bands, cut-offs
or alerts are invented: the clinic adds those to the resulting file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .definitions import (
    LOINC_ANSWER_PATTERN,
    LOINC_SYSTEM,
    InstrumentDefinition,
    Item,
    load_all,
    parse_definition,
)
from .errors import DefinitionError, FhirImportError

ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
ORDINAL_URLS = (
    ORDINAL_VALUE,
    "http://hl7.org/fhir/StructureDefinition/itemWeight",
    "http://hl7.org/fhir/StructureDefinition/iso21090-CO-value",
)
CALCULATED = ("http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression",)


def _coding(code: Any) -> dict[str, Any]:
    out = {"system": code.system, "code": code.code}
    if code.display:
        out["display"] = code.display
    return out


def answer_coding(item: Item, value: int) -> dict[str, Any]:
    option = item.option(value)
    assert option is not None
    if option.code is not None:
        coding = {"system": option.code.system, "code": option.code.code}
    else:
        coding = {"code": str(value)}
    coding["display"] = option.label or str(value)
    return coding


def _item_text(item: Item) -> str:
    if item.text:
        return item.text
    return f"Item {item.link_id}" + (f" ({item.label})" if item.label else "")


def to_fhir_questionnaire(d: InstrumentDefinition) -> dict[str, Any]:
    """An R4 Questionnaire (JSON-ready dict) for one definition."""
    scored_options = d.scoring.kind != "triage"
    items = []
    for item in d.items:
        out: dict[str, Any] = {"linkId": item.link_id, "type": "choice", "text": _item_text(item)}
        if item.code is not None:
            out["code"] = [_coding(item.code)]
        if item.scored and not item.enable_when:
            out["required"] = True
        if item.enable_when:
            out["enableWhen"] = [{"question": ew.item, "operator": "=" if ew.op == "==" else "!=",
                                  "answerCoding": answer_coding(d.item(ew.item) or item, ew.value)}
                                 for ew in item.enable_when]
            if len(item.enable_when) > 1:
                out["enableBehavior"] = item.enable_behavior
        options = []
        for option in item.options:
            if option.counts_as_missing:
                continue
            entry: dict[str, Any] = {"valueCoding": answer_coding(item, option.value)}
            if scored_options and item.scored:
                entry["extension"] = [{"url": ORDINAL_VALUE, "valueDecimal": option.value}]
            options.append(entry)
        out["answerOption"] = options
        items.append(out)
    description = [d.text_notice or ""]
    if d.recall_period:
        description.append(f"Recall period: {d.recall_period}.")
    description.append(f"Scoring: {d.scoring.kind} ({d.scoring.source}).")
    q: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": d.id.replace("_", "-"),
        "name": "".join(part.capitalize() for part in d.id.split("_")),
        "title": f"{d.name} ({d.short_name})",
        "version": d.version,
        "status": "active",
        "subjectType": ["Patient"],
        "description": " ".join(x for x in description if x),
        "copyright": d.licence.note,
        "item": items,
    }
    if d.code is not None:
        q["code"] = [_coding(d.code)]
    return q


@dataclass(frozen=True)
class FhirImport:
    """The imported definition, its JSON (to save as ``<id>.json``) and what was skipped."""

    definition: InstrumentDefinition
    data: dict[str, Any]
    skipped: tuple[str, ...]


def ordinal_value(option: Mapping[str, Any]) -> float | None:
    """An answer option's ordinal value (any of ``ORDINAL_URLS``); None without a number."""
    for ext in option.get("extension", []) or []:
        if isinstance(ext, dict) and ext.get("url") in ORDINAL_URLS:
            value = ext.get("valueDecimal", ext.get("valueInteger"))
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None
            return float(value)
    return None


def _flatten(items: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(items, list):
        raise FhirImportError(where, "must be a list of items")
    out: list[tuple[str, dict[str, Any]]] = []
    for i, item in enumerate(items):
        w = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise FhirImportError(w, "must be an object")
        if item.get("type") == "group":
            out += _flatten(item.get("item", []), f"{w}.item")
        elif item.get("type") != "display":
            out.append((w, item))
    return out


def _import_code(coding: Any, source: str) -> dict[str, Any] | None:
    if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
        return None
    system = coding.get("system")
    if system is None and LOINC_ANSWER_PATTERN.match(coding["code"]):
        system = LOINC_SYSTEM
    if not isinstance(system, str):
        return None
    out = {"system": system, "code": coding["code"], "evidence": "unverified", "source": source}
    if isinstance(coding.get("display"), str) and coding["display"].strip():
        out["display"] = coding["display"]
    return out


def _refuse_partial_panel(q: Mapping[str, Any], items: list[dict[str, Any]],
                          known: Mapping[str, InstrumentDefinition] | None) -> None:
    """A Questionnaire coded as a panel kapclinic knows (e.g. AUDIT-C, 72109-2) must hold every
    scored item of it: US Core's AUDIT-C example asks a free number (68517-2) in place of
    question 1 (68518-0), so summed it gives 0-8, not AUDIT-C's 0-12."""
    panel = {c.get("code") for c in q.get("code", []) or [] if isinstance(c, dict)}
    have = {i["code"]["code"] for i in items if i["scored"] and "code" in i}
    have |= {str(i["link_id"]).lstrip("/") for i in items if i["scored"]}
    for d in (load_all() if known is None else known).values():
        if d.code is None or d.code.code not in panel:
            continue
        wanted = [i.code.code for i in d.items if i.scored and i.code is not None]
        missing = [c for c in wanted if c not in have]
        if missing:
            raise FhirImportError("item", f"the Questionnaire is coded as {d.short_name} "
                                  f"({d.code.code}) but has no scored item {', '.join(missing)}: "
                                  f"it is not {d.short_name} and is not imported as it")


def import_fhir_questionnaire(q: Mapping[str, Any], *, instrument_id: str,
                              include_text: bool = True,
                              known: Mapping[str, InstrumentDefinition] | None = None
                              ) -> FhirImport:
    """Build a sum-scored definition from a Questionnaire whose options carry ordinal values.

    ``include_text=False`` drops item and answer wording (for a questionnaire whose licence
    does not let the clinic reproduce it). Raises ``FhirImportError`` naming the item.
    """
    if not isinstance(q, Mapping) or q.get("resourceType") != "Questionnaire":
        raise FhirImportError("resourceType", "must be 'Questionnaire'")
    source = f"imported from FHIR Questionnaire '{q.get('url') or q.get('id') or q.get('name')}'"
    title = str(q.get("title") or q.get("name") or instrument_id)
    items: list[dict[str, Any]] = []
    skipped: list[str] = []
    for where, item in _flatten(q.get("item", []), "item"):
        link_id = item.get("linkId")
        if not isinstance(link_id, str):
            raise FhirImportError(f"{where}.linkId", "is required")
        calculated = any(isinstance(e, dict) and e.get("url") in CALCULATED
                         for e in item.get("extension", []) or [])
        if item.get("type") not in ("choice", "open-choice") or item.get("readOnly") or calculated:
            skipped.append(f"{link_id} ({item.get('type')}{', calculated' if calculated else ''})")
            continue
        raw_options = item.get("answerOption")
        if not isinstance(raw_options, list) or not raw_options:
            raise FhirImportError(f"item {link_id}", "a choice item needs answerOption (answerValueSet "
                                  "cannot be resolved offline)")
        ordinals = [ordinal_value(o) if isinstance(o, dict) else None for o in raw_options]
        scored = any(o is not None for o in ordinals)
        if scored and any(o is None for o in ordinals):
            raise FhirImportError(f"item {link_id}", "some answer options have an ordinal value and "
                                  "some do not")
        options = []
        for index, (raw, ordinal) in enumerate(zip(raw_options, ordinals, strict=True)):
            if ordinal is not None and not float(ordinal).is_integer():
                raise FhirImportError(f"item {link_id}", f"ordinal value {ordinal} is not a whole number")
            value = int(ordinal) if ordinal is not None else index
            option: dict[str, Any] = {"value": value}
            coding = raw.get("valueCoding") if isinstance(raw, dict) else None
            code = _import_code(coding, source)
            if code is not None:
                option["code"] = code
            label = (coding or {}).get("display") if isinstance(coding, dict) else raw.get("valueString")
            if include_text and isinstance(label, str) and label.strip():
                option["label"] = label
            options.append(option)
        if len({o["value"] for o in options}) != len(options):
            raise FhirImportError(f"item {link_id}", "two answer options share an ordinal value")
        out: dict[str, Any] = {"link_id": link_id, "answers": options, "scored": scored}
        if include_text and isinstance(item.get("text"), str) and item["text"].strip():
            out["text"], out["text_source"] = item["text"], "questionnaire"
        codes = [_import_code(c, source) for c in item.get("code", []) or []]
        codes = [c for c in codes if c is not None]
        if codes:
            out["code"] = codes[0]
        items.append(out)
    scored_items = [i for i in items if i["scored"]]
    if not scored_items:
        raise FhirImportError("item", "no choice item carries ordinal values: nothing to sum")
    lo = sum(min(o["value"] for o in i["answers"]) for i in scored_items)
    hi = sum(max(o["value"] for o in i["answers"]) for i in scored_items)
    copyright_note = str(q.get("copyright") or "").strip()
    _refuse_partial_panel(q, items, known)
    data: dict[str, Any] = {
        "schema_version": 1,
        "id": instrument_id,
        "name": title,
        "short_name": str(q.get("name") or title),
        "version": str(q.get("version") or "imported"),
        "rater": "unspecified",
        "reference": source,
        "citation": f"{title} ({source})",
        "licence": {
            "text_may_be_shipped": "yes" if include_text else "unknown",
            "note": copyright_note or "No copyright statement in the source Questionnaire; the "
                                      "clinic that imported it is responsible for its licence.",
            "source": source,
        },
        "items": items,
        "wording_sources": [{
            "id": "questionnaire", "artefact": title,
            "url": str(q.get("url") or "(no url in the Questionnaire)"),
            "identifier": f"Questionnaire {q.get('id') or q.get('name') or title}",
            "licence": copyright_note or "No copyright statement in the source Questionnaire",
            "file": "(imported)"}] if any("text" in i for i in items) else [],
        "scoring": {
            "kind": "sum", "evidence": "unverified",
            "source": f"{source}: sum of answer ordinal values",
            "missing": {"rule": "complete", "evidence": "policy", "source": "kapclinic default",
                        "note": "The total is withheld unless every scored item is answered."},
        },
        "total_range": [lo, hi],
    }
    if not all("text" in i for i in items):
        data["text_notice"] = "Item wording was not imported." if not include_text else \
            "Some items had no wording in the source Questionnaire."
    codes = [_import_code(c, source) for c in q.get("code", []) or []]
    if codes and codes[0] is not None:
        data["code"] = codes[0]
    try:
        definition = parse_definition(data, f"{instrument_id}.json")
    except DefinitionError as exc:
        raise FhirImportError(exc.field, exc.problem) from exc
    return FhirImport(definition, data, tuple(skipped))
