"""The ledger's alerts (alerts app, source "inventory"): a count that differs from the ledger
and a theft or loss each raise an urgent alert at once, so the alerts worker escalates them
if nobody answers; resolving the discrepancy, or recording the written notice to the DEA,
acknowledges it. The alerts pages show the count or the loss under the alert."""

from __future__ import annotations

from kapclinic.alerts import actions as alert_actions
from kapclinic.alerts.models import Alert
from kapclinic.inventory.models import Disposal, LedgerLine, StockCount

SOURCE = "inventory"
TEMPLATE = "inventory/_alert_detail.html"
COUNT, LOSS, CORRECTION = "stock_count", "disposal", "ledger_line"


def count_differs(count: StockCount, by) -> Alert:
    return alert_actions.raise_alert(
        clinic_id=count.clinic_id, source=SOURCE, kind="count_discrepancy",
        label=f"Count of lot {count.lot.lot_number} at {count.location.name}: "
              f"{count.difference_words}",
        recommended_action="The clinic admin resolves it with a reason on the stock's "
                           "discrepancies page.",
        record_type=COUNT, record_id=count.pk, by=by)


def theft_or_loss(disposal: Disposal, by) -> Alert:
    return alert_actions.raise_alert(
        clinic_id=disposal.clinic_id, source=SOURCE, kind=f"{disposal.kind}_reported",
        label=f"{disposal.get_kind_display().split(' (')[0]} of controlled substance recorded",
        recommended_action="Send written notice to the DEA field division within one business "
                           "day of discovery, then file DEA Form 106 online.",
        record_type=LOSS, record_id=disposal.pk, by=by)


def corrected(line, reversal, by) -> Alert:
    """A correction of the record (a receipt, a wastage, a disposal, another's line reversed)
    is shown to the clinic, as a count's discrepancy is."""
    return alert_actions.raise_alert(
        clinic_id=line.clinic_id, source=SOURCE, kind="line_corrected",
        priority=Alert.Priority.FOLLOW_UP,
        label=f"Ledger line {line.pk} ({line.get_kind_display().lower()}, lot {line.lot.lot_number}) "
              f"reversed as a correction",
        recommended_action="Check the reason and the witness in the lot's ledger.",
        record_type=CORRECTION, record_id=reversal.pk, by=by)


def answered(record_type: str, record_id: int, *, note: str, by) -> None:
    """The alert a record raised, acknowledged by what answered it (if still open)."""
    alert = Alert.objects.filter(source=SOURCE, record_type=record_type, record_id=record_id,
                                 acknowledged_at__isnull=True).first()
    if alert is not None:
        alert_actions.acknowledge_alert(alert=alert, note=note[:2000], by=by)


def load(alerts) -> dict[int, dict]:
    corrections = LedgerLine.objects.select_related("reverses", "witness").in_bulk(
        [a.record_id for a in alerts if a.record_type == CORRECTION])
    counts = StockCount.objects.select_related("lot__product", "location").in_bulk(
        [a.record_id for a in alerts if a.record_type == COUNT])
    losses = Disposal.objects.in_bulk([a.record_id for a in alerts if a.record_type == LOSS])
    out: dict[int, dict] = {}
    for alert in alerts:
        if alert.record_type == CORRECTION and alert.record_id in corrections:
            out[alert.pk] = {"correction": corrections[alert.record_id]}
        found = (counts if alert.record_type == COUNT else losses).get(alert.record_id)
        if found is not None and alert.record_type in (COUNT, LOSS):
            out[alert.pk] = {"count": found} if alert.record_type == COUNT else {"loss": found}
    return out
