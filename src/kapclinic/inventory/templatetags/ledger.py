"""Amounts as a ledger writes them: 1.5 not 1.500, 800 not 800.000."""

from decimal import Decimal

from django import template

from kapclinic.platform import labels

register = template.Library()


@register.filter
def qty(value) -> str:
    if value is None or value == "":
        return ""
    number = Decimal(str(value)).quantize(Decimal("0.001")).normalize()
    text = f"{number:f}"
    return "0" if text in ("-0", "0") else text


@register.filter
def drug_name(drug: str) -> str:
    return labels.DRUG_LABELS.get(drug, drug)


@register.filter
def route_name(route: str) -> str:
    return labels.ROUTE_LABELS.get(route, route)


@register.filter
def unsigned(value) -> str:
    """An outgoing amount without its sign ("35", not "-35"), as a sentence says it."""
    return qty(abs(Decimal(str(value)))) if value not in (None, "") else ""
