"""The alerts app's part of the worker, for each clinic on its own: escalate urgent alerts
nobody acknowledged in time, then send the clinic's outbox (after every step that queues
messages in the same pass, outside any transaction and the audit chain's lock)."""

from __future__ import annotations

from kapclinic.alerts import escalation, sending
from kapclinic.platform import extensions

# the step labels, as the worker's report prints them
ESCALATING = "alerts escalated"
SENDING = "messages sent"


def steps() -> list[extensions.WorkerStep]:
    return [
        extensions.WorkerStep("alerts.escalate", ESCALATING, escalation.escalate_clinic,
                              order=30),
        extensions.WorkerStep("alerts.outbox", SENDING, sending.deliver_clinic, order=40),
    ]
