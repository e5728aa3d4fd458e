"""Display helpers for the questionnaire pages: each question with its number beside its
wording, and where the wording came from."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from django import template

register = template.Library()


def printed_number(item, position: int) -> str:
    """The item's number on the printed form (1, 6b, CADSS's 15); an item named by an id
    instead is numbered by its ``position`` (from 1) in the questionnaire."""
    return item.link_id if re.fullmatch(r"\d+[a-z]?", item.link_id) else str(position)


@register.simple_tag
def question(form, field) -> dict:
    """``number`` (the item's number on the printed form), ``text`` (its published wording,
    or None when the wording is not shipped) and ``label`` (a short description, if any)."""
    definition = getattr(form, "definition", None)
    link_id = field.name.removeprefix("item_")
    item = definition.item(link_id) if definition is not None and \
        field.name.startswith("item_") else None
    if item is None:
        return {"number": None, "text": field.label, "label": None}
    number = printed_number(item, definition.items.index(item) + 1)
    label = item.label or (None if number == item.link_id else item.link_id.replace("_", " "))
    return {"number": number, "text": item.text, "label": label}


@register.simple_tag
def wording_sources(form) -> list:
    """The artefacts this form's wording was copied from (shown as a source note)."""
    definition = getattr(form, "definition", None)
    return list(definition.wording_sources) if definition is not None else []


@register.filter
def percent(fraction) -> str:
    """A proportion (0.5) as a clinician reads it, "50%" (halves rounded up); "" for none. Never
    "0%" or "100%" for a proportion that is neither: "<1%", ">99%"."""
    if fraction is None:
        return ""
    value = Decimal(str(fraction)) * 100
    if 0 < value < 1:
        return "<1%"
    if 99 < value < 100:
        return ">99%"
    return f"{value.quantize(Decimal(1), rounding=ROUND_HALF_UP)}%"


@register.filter
def recall_sentence(recall_period: str) -> str:
    """The definition's recall period ("past 2 weeks") as a sentence the patient reads above
    the questions; the questionnaire's own instructions are not shipped, so none is made up."""
    if recall_period.startswith("past "):
        return f"These questions are about the {recall_period}."
    return f"Time frame: {recall_period}."


_RATERS = {
    "self": "filled in by the patient",
    "clinician": "rated by a clinician",
    "observer": "rated by a clinician watching the patient",
    "mixed": "rated partly by a clinician",
    "unspecified": "rater not stated in its source",
}


@register.filter
def size_and_rater(summary: dict) -> str:
    """A questionnaire's row in a list (instruments.list_instruments()) in words: "10 items,
    filled in by the patient", "1 item, rated by a clinician watching the patient"."""
    count = summary["items"]
    rater = _RATERS.get(summary["rater"], str(summary["rater"]))
    return f"{count} item{'' if count == 1 else 's'}, {rater}"


# ---- results, alerts and the outcome rules in plain words ---------------------------------

def _definition(instrument_id: str):
    from kapclinic.clinical import instruments

    try:
        return instruments.get_instrument(instrument_id)
    except instruments.UnknownInstrumentError:
        return None


@register.filter
def alert_name(flag: str, instrument_id: str) -> str:
    """An alert id stored with a result (suicidal_ideation), as its definition words it
    (its label up to the colon: "Item 9 (thoughts of death/self-harm) scored 1 or more")."""
    definition = _definition(instrument_id)
    rule = next((a for a in definition.alerts if a.id == flag), None) if definition else None
    if rule is None:
        return flag.replace("_", " ").capitalize()
    return rule.label.split(":", 1)[0]


_EVIDENCE = {
    "verified": "published rule",
    "secondary": "published rule, from a secondary source",
    "derived": "derived from published values",
    "unverified": "not yet confirmed against its published source",
    "policy": "clinic setting",
}


def _params(rule_id: str) -> dict[str, str]:
    match = re.search(r"\((.*)\)$", rule_id)
    if not match:
        return {}
    return dict(part.split("=", 1) for part in match.group(1).split(",") if "=" in part)


def _describe(name: str, rule_id: str, definition) -> tuple[str, str] | None:
    p = _params(rule_id)
    if name == "outcomes":
        return None
    if name == "baseline":
        anchor = {"episode": "treatment episode", "course": "course"}.get(p.get("anchor", ""),
                                                                         "treatment episode")
        text = (f"the last score on or before the start of the {anchor}, taken at most "
                f"{p.get('window_days', '?')} days before it")
        if p.get("fallback") == "first_after_start":
            text += "; if there is none, the first score after the start"
        return "Baseline", text
    if name == "relief_fading":
        try:
            share = f"{float(p.get('fraction', '')) * 100:g}%"
        except ValueError:
            share = "the clinic's share"
        return "Relief fading", (f"the latest score has regained at least {share} of the "
                                 "improvement from baseline to the best score since response")
    if name == "response" and definition is not None:
        rule = next((c for c in definition.change_rules if c.id == "response"), None)
        if rule is None:
            return "Response", "the clinic's response rule (outcome settings)"
        if rule.kind == "percent_reduction":
            return "Response", f"a total at least {rule.at_least:g}% lower than baseline"
        return "Response", f"a total at least {rule.at_least:g} points lower than baseline"
    if name == "remission" and definition is not None and definition.remission is not None:
        rm = definition.remission
        value = rm.value.literal if rm.value.literal is not None else p.get(rm.value.setting or "")
        try:
            shown = f"{float(value):g}"
        except (TypeError, ValueError):
            shown = "the clinic's cut-off"
        return "Remission", (f"a total below {shown}" if rm.op == "<" else
                             f"a total of {shown} or less")
    if name == "relapse":
        from kapclinic.clinical import outcomes

        for rule in outcomes.load_rules().relapse_rules.values():
            if rule.rule_id == rule_id:
                return "Relapse", rule.label
        version = rule_id.rsplit("-", 1)[-1]
        return "Relapse", f"the clinic's relapse rule (version {version}, outcome settings)"
    return name.replace("_", " ").capitalize(), "as recorded with the result"


@register.simple_tag
def rules_in_words(rules, definition) -> list[dict]:
    """The outcome rules a result was computed with ([(name, rule id, evidence)]), each as a
    sentence with a source note a clinician can read."""
    out = []
    for name, rule_id, evidence in rules:
        described = _describe(name, rule_id, definition)
        if described is not None:
            out.append({"name": described[0], "text": described[1],
                        "source": _EVIDENCE.get(evidence, "")})
    return out
