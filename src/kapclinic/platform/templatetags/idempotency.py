"""{% form_token %}: the one-time token a form sends so a repeat POST is not written twice
(kapclinic.platform.idempotency.one_time_form)."""

from django import template
from django.utils.html import format_html

from kapclinic.platform.idempotency import FORM_FIELD, new_form_token

register = template.Library()


@register.simple_tag
def form_token() -> str:
    return format_html('<input type="hidden" name="{}" value="{}">', FORM_FIELD,
                       new_form_token())
