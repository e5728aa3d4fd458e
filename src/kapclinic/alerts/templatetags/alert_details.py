"""``{% alert_detail alert %}``: the detail the alert's source registered (alerts.sources),
rendered with the alert and the context its loader returned; nothing when it has none."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def alert_detail(context, alert) -> str:
    shown = getattr(alert, "shown", None)
    if shown is None or shown.template is None:
        return ""
    detail = context.template.engine.get_template(shown.template)
    with context.push(alert=alert, **shown.context):
        return detail.render(context)
