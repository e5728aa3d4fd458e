"""The question a clinician reads for an intake field the rules name ('history.seizures')."""

from django import template

from kapclinic.platform.labels import DRUG_LABELS, ROUTE_LABELS
from kapclinic.screening.forms import intake_field_label

register = template.Library()


@register.filter
def intake_label(name: str) -> str:
    return intake_field_label(name)


@register.filter
def drug_label(drug: str) -> str:
    return DRUG_LABELS.get(drug, drug)


@register.filter
def route_label(route: str) -> str:
    return ROUTE_LABELS.get(route, route)
