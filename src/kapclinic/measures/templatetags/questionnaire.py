"""Display helpers for the questionnaire pages: each question with its number beside its
wording, and where the wording came from."""

from __future__ import annotations

import re

from django import template

register = template.Library()


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
    # the printed form's number (1, 6b, CADSS's 15); items named by id are numbered in order
    number = item.link_id if re.fullmatch(r"\d+[a-z]?", item.link_id) else \
        str(definition.items.index(item) + 1)
    label = item.label or (None if number == item.link_id else item.link_id.replace("_", " "))
    return {"number": number, "text": item.text, "label": label}


@register.simple_tag
def wording_sources(form) -> list:
    """The artefacts this form's wording was copied from (shown as a source note)."""
    definition = getattr(form, "definition", None)
    return list(definition.wording_sources) if definition is not None else []
