"""Amounts as a ledger writes them: 1.5 not 1.500, 800 not 800.000."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def qty(value) -> str:
    if value is None or value == "":
        return ""
    number = Decimal(str(value)).quantize(Decimal("0.001")).normalize()
    text = f"{number:f}"
    return "0" if text in ("-0", "0") else text
