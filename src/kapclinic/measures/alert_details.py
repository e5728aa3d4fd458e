"""What the alerts pages show under an alert a questionnaire raised: the answers behind it,
the alert's own question(s) first. Registered with ``alerts.sources`` from
MeasuresConfig.ready(); the responses of every alert on a page are loaded in one query."""

from __future__ import annotations

from kapclinic.clinical import instruments
from kapclinic.measures.models import RESPONSE_RECORD, Response
from kapclinic.measures.templatetags.questionnaire import printed_number

TEMPLATE = "measures/_alert_answers.html"


def load(alerts) -> dict[int, dict]:
    """Each alert's ``response`` and ``raised`` (the answers shown), by alert id; an alert
    whose response is not found gets nothing (the page shows it without answers)."""
    ids = {a.record_id for a in alerts if a.record_type == RESPONSE_RECORD}
    found = Response.objects.in_bulk(ids) if ids else {}
    details = {}
    for alert in alerts:
        response = found.get(alert.record_id) if alert.record_type == RESPONSE_RECORD else None
        if response is not None:
            details[alert.pk] = {"response": response,
                                 "raised": answers_that_raised(response, alert.kind)}
    return details


def answers_that_raised(response: Response, kind: str) -> dict:
    """The answers and result that raised an alert of ``kind``: each answered question with
    its number, wording (if shipped) and the answer given, the alert's own question(s)
    first."""
    try:
        definition = instruments.get_instrument(response.instrument)
    except instruments.UnknownInstrumentError:
        definition = None  # the clinic removed the file: the total and band still show
    rows = []
    if definition is not None:
        rule = next((a for a in definition.alerts if a.id == kind), None)
        named = rule.when.items() if rule is not None and hasattr(rule.when, "items") else set()
        for position, item in enumerate(definition.items, start=1):
            value = (response.answers or {}).get(item.link_id)
            if value is None:
                continue
            option = item.option(value) if isinstance(value, int) else None
            rows.append({"number": printed_number(item, position),
                         "text": item.text or item.label or "",
                         "answer": value, "answer_label": option.label if option else None,
                         "raised": item.link_id in named})
        rows.sort(key=lambda r: not r["raised"])
    result = response.result if isinstance(response.result, dict) else {}
    return {"rows": rows, "total": response.total, "severity": result.get("severity_label")}
