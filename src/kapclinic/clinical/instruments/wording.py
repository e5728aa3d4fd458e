"""Item wording copied verbatim from published FHIR artefacts (never typed from memory).

Each instrument whose licence lets its wording be shipped (clinical.md 1.1) and for which a
published artefact is at hand takes its item text, and where the artefact has them its answer
texts and LOINC answer (LA) codes, from that artefact: ``SPECS`` says which item of which
artefact each definition item is. The definitions hold the copied text, each item naming its
``text_source``, and the definition's ``wording_sources`` say what each artefact is, where it
is published (URL, identifier) and its terms.

``derive`` re-reads the wording from the artefacts; ``check`` compares a definition with it
(the test suite runs it on the shipped definitions against byte-for-byte copies of the
artefacts in tests/clinical/instruments/fixtures/); ``apply`` writes it into a definition's
JSON. From the command line::

    python -m kapclinic.clinical.instruments.wording FIXTURES_DIR          # check
    python -m kapclinic.clinical.instruments.wording FIXTURES_DIR --write  # re-derive

Traps the artefacts hold (see the fixtures' README): LOINC's GAD-7 item 2 (68509-9) is worded
differently from the printed form and its third answer is "More days than not" (LA18938-3,
weight 2): it is shown as LOINC words it, and said so. The US Core AUDIT-C Questionnaire's
first item is not AUDIT-C question 1, so only its items 68519-8 and 68520-6 are used; AUDIT-C
question 1 comes from CDC's AUDIT. The full AUDIT's wording is not shipped: its licence
(© WHO) allows non-commercial reproduction only.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .definitions import (
    DEFINITIONS_DIR,
    LOINC_ANSWER_PATTERN,
    LOINC_SYSTEM,
    InstrumentDefinition,
    load_definition,
)
from .fhir import ordinal_value

FHIR_NS = "{http://hl7.org/fhir}"


@dataclass(frozen=True)
class Source:
    """A published artefact (the fields of a definition's ``wording_sources`` entry)."""

    id: str
    file: str
    artefact: str
    url: str
    identifier: str
    licence: str
    note: str = ""
    ordinals_from: str | None = None  # a second copy of the same LOINC form with the weights

    def entry(self) -> dict[str, str]:
        out = {"id": self.id, "artefact": self.artefact, "url": self.url,
               "identifier": self.identifier, "licence": self.licence, "file": self.file}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Take:
    """Definition items (link ids) and the artefact items they are (linkId or item code)."""

    source: str
    items: dict[str, str]
    answers: bool = True  # take the answer texts too (a QuestionnaireResponse has only some)


SOURCES = {s.id: s for s in (
    Source("nlm_phq9", "phq9-questionnaire-lhcforms.json",
           "PHQ-9 FHIR Questionnaire (LOINC 44249-1) of the US National Library of Medicine's "
           "LHC-Forms project",
           "https://github.com/LHNCBC/lforms-fhir-app/blob/73963e8/cypress/fixtures/R4/phq9.json",
           "Questionnaire 44249-1-x, LOINC 44249-1",
           "LHC-Forms: BSD-style licence of LHNCBC; LOINC content under the LOINC terms of use; "
           "PHQ: no permission required to reproduce (Pfizer)"),
    Source("loinc_gad7", "gad7-questionnaire-hl7pco.json",
           "LOINC's GAD-7 Questionnaire (69737-5) in the HL7 Person-Centered Outcomes "
           "Implementation Guide 1.0.0",
           "http://hl7.org/fhir/us/pco/Questionnaire/69737-5",
           "HL7/pco-ig @ 3213629, input/resources/questionnaire/Questionnaire-GAD7.json",
           "CC0; LOINC content under the LOINC terms of use; GAD-7: no permission required to "
           "reproduce (Pfizer)",
           "Item 2 and its third answer are LOINC's wording, which differs from the printed "
           "GAD-7 form; the answer weights 0-3 are LOINC answer list LL358-3's, as in the "
           "LHC-Forms copy of the same form (uwcirg/asbi-screening-app @ e9ad4ad).",
           ordinals_from="gad7-questionnaire-uwcirg-lhcforms.json"),
    Source("cdc_audit", "audit-questionnaire-cdc-asbi.json",
           "AUDIT FHIR Questionnaire of CDC's alcohol screening and brief intervention app "
           "(US adaptation), question 1",
           "http://www.cdc.gov/ncbddd/fasd/audit",
           "asbi-cds-tools/asbi-screening-app @ c217644, src/fhir/Questionnaire-WHOAUDIT.json",
           "Apache-2.0 (MITRE for CDC); AUDIT-C is public domain",
           "Its answer codes are CDC's own, not LOINC's, and are not carried over."),
    Source("uscore_auditc", "auditc-questionnaire-hl7uscore.json",
           "US Core 8.0.0 AUDIT-C example Questionnaire (LOINC 72109-2), items 68519-8 and "
           "68520-6",
           "http://hl7.org/fhir/us/core/Questionnaire/AUDIT-C",
           "HL7/US-Core tag 8.0.0, input/examples/Questionnaire-AUDIT-C.json",
           "CC0; LOINC content under the LOINC terms of use; AUDIT-C is public domain",
           "Its first item (68517-2) is not AUDIT-C question 1 and is not used."),
    Source("bhp_cssrs", "cssrs-screener-questionnaireresponse-hl7bhp.xml",
           "C-SSRS screener example QuestionnaireResponse of the HL7 US Behavioral Health "
           "Profiles Implementation Guide",
           "https://github.com/HL7/us-behavioral-health-profiles/blob/7ad613c/input/resources/"
           "questionnaireresponse/C-SSRS-example-1.xml",
           "QuestionnaireResponse C-SSRS-example-1 (LOINC items 93246-7 ... 93269-9)",
           "HL7 implementation guide example; C-SSRS: no cost or licence for health care "
           "providers (Columbia)"),
)}

_PHQ9 = {"1": "44250-9", "2": "44255-8", "3": "44259-0", "4": "44254-1", "5": "44251-7",
         "6": "44258-2", "7": "44252-5", "8": "44253-3", "9": "44260-8", "10": "69722-7"}
_GAD7 = {"1": "69725-0", "2": "68509-9", "3": "69733-4", "4": "69734-2", "5": "69735-9",
         "6": "69689-8", "7": "69736-7"}

SPECS: dict[str, tuple[Take, ...]] = {
    "phq9": (Take("nlm_phq9", _PHQ9),),
    "phq2": (Take("nlm_phq9", {k: _PHQ9[k] for k in ("1", "2")}),),  # PHQ-9 items 1-2
    "gad7": (Take("loinc_gad7", _GAD7),),
    "gad2": (Take("loinc_gad7", {k: _GAD7[k] for k in ("1", "2")}),),  # GAD-7 items 1-2
    "audit_c": (Take("cdc_audit", {"1": "audit-question-one"}),
                Take("uscore_auditc", {"2": "68519-8", "3": "68520-6"})),
    "cssrs_screener": (Take("bhp_cssrs", {"1": "93246-7", "2": "93247-5", "3": "93248-3",
                                          "4": "93249-1", "5": "93250-9", "6": "93267-3",
                                          "6b": "93269-9"}, answers=False),),
}


class WordingError(ValueError):
    """An artefact does not hold what ``SPECS`` says it does."""


@dataclass(frozen=True)
class Wording:
    source: str
    text: str
    answers: tuple[dict[str, Any], ...] | None = None  # value, label, code (LA) or None
    seen_answers: tuple[tuple[str, str], ...] = field(default=())  # (code, label) in a response


def _questionnaire_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        out.append(item)
        out += _questionnaire_items(item.get("item", []) or [])
    return out


def _matches(item: dict[str, Any], selector: str) -> bool:
    codes = [c.get("code") for c in item.get("code", []) or [] if isinstance(c, dict)]
    return item.get("linkId") in (selector, f"/{selector}") or selector in codes


def _read_json(path: Path) -> list[dict[str, Any]]:
    return _questionnaire_items(json.loads(path.read_text(encoding="utf-8")).get("item", []))


def _weights(path: Path) -> dict[str, float]:
    """LA code -> ordinal value over a whole Questionnaire (one weight per code)."""
    out: dict[str, float] = {}
    for item in _read_json(path):
        for option in item.get("answerOption", []) or []:
            code = (option.get("valueCoding") or {}).get("code")
            weight = ordinal_value(option)
            if code and weight is not None and out.setdefault(code, weight) != weight:
                raise WordingError(f"{path.name}: answer {code} has two weights")
    return out


def _answers(item: dict[str, Any], weights: dict[str, float], where: str) -> tuple[dict[str, Any], ...]:
    out = []
    for position, option in enumerate(item.get("answerOption", []) or []):
        coding = option.get("valueCoding") or {}
        label = coding.get("display")
        code = coding.get("code")
        if not isinstance(label, str) or not label.strip():
            raise WordingError(f"{where}: answer {position + 1} has no text")
        weight = ordinal_value(option)
        if weight is None and code in weights:
            weight = weights[code]
        if weight is None and item.get("answerOption") and any(
                ordinal_value(o) is not None for o in item["answerOption"]):
            raise WordingError(f"{where}: answer '{label}' has no weight")
        value = int(weight) if weight is not None else position  # unscored: in order
        loinc = code if isinstance(code, str) and LOINC_ANSWER_PATTERN.match(code) else None
        out.append({"value": value, "label": label, "code": loinc})
    if not out:
        raise WordingError(f"{where}: no answer options")
    return tuple(out)


def _xml_value(element: ET.Element, child: str, file: str) -> str:
    """The value attribute of a FHIR XML element's child (``<text value="..."/>``)."""
    found = element.find(f"{FHIR_NS}{child}")
    value = None if found is None else found.get("value")
    if value is None:
        raise WordingError(f"{file}: an element has no {child}")
    return value


def derive(instrument_id: str, fixtures_dir: Path | str) -> dict[str, Wording]:
    """Definition link id -> the wording the artefacts hold for it."""
    fixtures = Path(fixtures_dir)
    out: dict[str, Wording] = {}
    for take in SPECS[instrument_id]:
        source = SOURCES[take.source]
        path = fixtures / source.file
        if path.suffix == ".xml":
            root = ET.parse(path).getroot()  # noqa: S314 (a file of ours, not user input)
            for link_id, selector in take.items.items():
                hits = [i for i in root.iter(f"{FHIR_NS}item")
                        if _xml_value(i, "linkId", source.file) in (selector, f"/{selector}")]
                if len(hits) != 1:
                    raise WordingError(f"{source.file}: no single item {selector}")
                seen = tuple((_xml_value(c, "code", source.file), _xml_value(c, "display", source.file))
                             for c in hits[0].iter(f"{FHIR_NS}valueCoding"))
                out[link_id] = Wording(source.id, _xml_value(hits[0], "text", source.file), None, seen)
            continue
        items = _read_json(path)
        weights = _weights(fixtures / source.ordinals_from) if source.ordinals_from else {}
        for link_id, selector in take.items.items():
            found = [i for i in items if _matches(i, selector)]
            if len(found) != 1:
                raise WordingError(f"{source.file}: no single item {selector}")
            text = found[0].get("text")
            if not isinstance(text, str) or not text.strip():
                raise WordingError(f"{source.file}: item {selector} has no text")
            answers = _answers(found[0], weights, f"{source.file} item {selector}") \
                if take.answers else None
            out[link_id] = Wording(source.id, text, answers)
    return out


def _shown_answers(definition: InstrumentDefinition, link_id: str) -> tuple[dict[str, Any], ...]:
    item = definition.item(link_id)
    assert item is not None
    return tuple({"value": o.value, "label": o.label,
                  "code": o.code.code if o.code and o.code.system == LOINC_SYSTEM else None}
                 for o in item.options)


def check(definition: InstrumentDefinition, fixtures_dir: Path | str) -> list[str]:
    """What differs between a definition and the wording its artefacts hold ([] if none)."""
    problems: list[str] = []
    wanted = derive(definition.id, fixtures_dir)
    for take in SPECS[definition.id]:
        entry = definition.wording_source(take.source)
        if entry is None or {**SOURCES[take.source].entry()} != {
                k: v for k, v in vars(entry).items() if v or k != "note"}:
            problems.append(f"{definition.id}: wording source {take.source} is missing or differs")
    for link_id, wording in wanted.items():
        item = definition.item(link_id)
        where = f"{definition.id} item {link_id}"
        if item is None:
            problems.append(f"{where}: not in the definition")
            continue
        if item.text != wording.text:
            problems.append(f"{where}: text {item.text!r} is not the artefact's {wording.text!r}")
        if item.text_source != wording.source:
            problems.append(f"{where}: text_source {item.text_source!r}, not {wording.source!r}")
        shown = _shown_answers(definition, link_id)
        if wording.answers is not None and shown != wording.answers:
            problems.append(f"{where}: answers {shown} are not the artefact's {wording.answers}")
        for code, label in wording.seen_answers:
            if not any(a["code"] == code and a["label"] == label for a in shown):
                problems.append(f"{where}: no answer {label!r} ({code}) as in the artefact")
    return problems


def _option_json(answer: dict[str, Any], source: Source) -> dict[str, Any]:
    out: dict[str, Any] = {"value": answer["value"], "label": answer["label"]}
    if answer["code"]:
        out["code"] = {"system": LOINC_SYSTEM, "code": answer["code"], "evidence": "verified",
                       "source": f"{source.artefact} ({source.url})"}
    return out


def apply(data: dict[str, Any], fixtures_dir: Path | str) -> dict[str, Any]:
    """The definition JSON with its item wording, answer texts and sources re-derived from
    the artefacts. An answer set all of whose items read the same takes the texts; an item
    whose answers differ (GAD-7 item 2) gets its own list."""
    instrument_id = data["id"]
    wanted = derive(instrument_id, fixtures_dir)
    takes = SPECS[instrument_id]
    data = json.loads(json.dumps(data))
    entries = [e for e in data.get("wording_sources", []) if e["id"] not in {t.source for t in takes}]
    data["wording_sources"] = entries + [SOURCES[t.source].entry() for t in takes]
    items = {i["link_id"]: i for i in data["items"]}
    by_set: dict[str, list[str]] = {}
    for link_id, wording in wanted.items():
        item = items[link_id]
        item["text"], item["text_source"] = wording.text, wording.source
        if wording.answers is None:
            continue
        if isinstance(item["answers"], str):
            by_set.setdefault(item["answers"], []).append(link_id)
        else:
            item["answers"] = [_option_json(a, SOURCES[wording.source]) for a in wording.answers]
    for name, members in by_set.items():
        readings = Counter(json.dumps(wanted[m].answers) for m in members)
        common, _ = readings.most_common(1)[0]
        users = [i for i in data["items"] if i["answers"] == name]
        for link_id in members:
            wording = wanted[link_id]
            if json.dumps(wording.answers) != common or len(users) != len(members):
                items[link_id]["answers"] = [_option_json(a, SOURCES[wording.source])
                                             for a in wording.answers or ()]
        if len(users) == len(members):
            source = SOURCES[wanted[members[0]].source]
            data["answer_sets"][name] = [_option_json(a, source) for a in json.loads(common)]
    return data


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    write = "--write" in args
    args = [a for a in args if a != "--write"]
    if len(args) != 1:
        print("usage: python -m kapclinic.clinical.instruments.wording FIXTURES_DIR [--write]",
              file=sys.stderr)
        return 2
    problems: list[str] = []
    for instrument_id in SPECS:
        path = DEFINITIONS_DIR / f"{instrument_id}.json"
        if write:
            data = apply(json.loads(path.read_text(encoding="utf-8")), args[0])
            path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        problems += check(load_definition(path), args[0])
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
