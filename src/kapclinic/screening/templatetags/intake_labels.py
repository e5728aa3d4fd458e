"""The question a clinician reads for an intake field the rules name ('history.seizures')."""

from django import template

from kapclinic.screening.forms import intake_field_label

register = template.Library()


@register.filter
def intake_label(name: str) -> str:
    return intake_field_label(name)
