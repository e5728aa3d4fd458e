"""Numbers on the session record as a clinician writes them: 0.5 mg/kg, 35 mg, 28 mg (no
trailing zeros, no rounding away of what was recorded)."""

from django import template

register = template.Library()


@register.filter
def g(value) -> str:
    """``{{ dose_mg|g }}``: 35.0 -> "35", 0.5 -> "0.5", 0.875 -> "0.875"; empty for None."""
    if value is None or value == "":
        return ""
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)
