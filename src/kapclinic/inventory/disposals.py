"""Stock that leaves other than by a dose (sessions.md 4): destroyed (the DEA Form 41 data:
method, date, place, and two authorised employees who witness it), stolen or lost (the DEA
Form 106 data, and a written notice to the DEA field division due within one business day
of discovery), or returned to a reverse distributor. Each is a ``Disposal`` with the ledger
line that takes the amount out of the lot at its location."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.accounts.permissions import Action
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.inventory import actions, alerting
from kapclinic.inventory import witness as witnesses
from kapclinic.inventory.errors import FieldError
from kapclinic.inventory.models import (
    DeaNotice,
    Disposal,
    DisposalKind,
    Kind,
    LedgerLine,
    Location,
    Lot,
    NoticeStep,
)

LINE_KIND = {DisposalKind.DESTRUCTION: Kind.DESTRUCTION, DisposalKind.THEFT: Kind.LOSS,
             DisposalKind.LOSS: Kind.LOSS, DisposalKind.RETURN: Kind.RETURN}


@action
def dispose(*, lot: Lot, location: Location, kind: str, amount_mg=None, amount_ml=None,
            happened_at: datetime | None, by: User | None, method: str = "", place: str = "",
            description: str = "", recipient_name: str = "", recipient_address: str = "",
            recipient_dea: str = "", witness: User | None = None, witness_password: str = "",
            witness_code: str = "", second_witness: User | None = None,
            second_witness_password: str = "", second_witness_code: str = "") -> Disposal:
    """Record a destruction, a theft or loss, or a return, and take its amount out of stock."""
    if kind not in DisposalKind.values:
        raise FieldError("kind", f"must be one of: {', '.join(DisposalKind.values)}")
    mg = actions.mg_from(lot.product, amount_mg=amount_mg, amount_ml=amount_ml)
    when = actions.moment(happened_at, lot.clinic_id, "happened_at")
    fields: dict = {}
    if kind == DisposalKind.DESTRUCTION:
        fields["method"] = actions.clean_text("method", method, required=True, max_length=200)
        fields["place"] = actions.clean_text("place", place, required=True, max_length=200)
        fields["description"] = actions.clean_text("description", description)
        if witness is not None and second_witness is not None and witness.pk == second_witness.pk:
            raise FieldError("second_witness", "the two witnesses must be two different people")
        for field, person, password, code in (
                ("witness", witness, witness_password, witness_code),
                ("second_witness", second_witness, second_witness_password, second_witness_code)):
            # either witness may be the one recording it; each authenticates now
            witnesses.confirm_witness(lot, by=None, witness=person, password=password, code=code,
                                      field=field, may=Action.STOCK_VIEW,
                                      roles_said="an admin, prescriber or nurse")
        now = timezone.now()
        fields.update(witness=witness, witnessed_at=now, second_witness=second_witness,
                      second_witnessed_at=now)
    elif kind == DisposalKind.RETURN:
        fields["recipient_name"] = actions.clean_text("recipient_name", recipient_name, required=True,
                                                 max_length=200)
        fields["recipient_address"] = actions.clean_text("recipient_address", recipient_address,
                                                    required=True, max_length=300)
        fields["recipient_dea"] = actions.dea_number("recipient_dea", recipient_dea)
        fields["description"] = actions.clean_text("description", description)
    else:
        fields["description"] = actions.clean_text("description", description, required=True)
    record = Disposal.objects.create(clinic_id=lot.clinic_id, kind=kind, happened_at=when,
                                     recorded_by=by, **fields)
    actions.move(lot=lot, location=location, kind=LINE_KIND[kind], mg=-mg, at=when, by=by,
                  disposal=record, method=fields.get("method", ""),
                  reason=fields.get("description", ""))
    trail.record("create", object_type="disposal", object_id=record.pk,
                 detail={"kind": kind, "lot": lot.pk, "location": location.pk, "amount_mg": str(mg)})
    if record.is_theft_or_loss:
        alerting.theft_or_loss(record, by)
    return record


def notice_due(disposal: Disposal) -> datetime:
    """When the written notice of a theft or loss is due: the end of the next business day
    after discovery, in the clinic's time (weekends skipped; public holidays are not known
    here, so the reminder may come a day early around one)."""
    zone = disposal.clinic.zone
    day = timezone.localtime(disposal.happened_at, zone).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(23, 59), tzinfo=zone)


@action
def record_notice(*, disposal: Disposal, step: str, done_at: datetime | None, reference: str = "",
                  by: User | None) -> DeaNotice:
    """A step of reporting a theft or loss, once done (each step once)."""
    if not disposal.is_theft_or_loss:
        raise FieldError("step", "only a theft or loss is reported to the DEA")
    if step not in NoticeStep.values:
        raise FieldError("step", f"must be one of: {', '.join(NoticeStep.values)}")
    when = done_at or timezone.now()
    if timezone.is_naive(when) or when > timezone.now() + actions.CLOCK_SKEW:
        raise FieldError("done_at", "is in the future: record the step once it is done")
    if when < disposal.happened_at:
        raise FieldError("done_at", "is before the theft or loss was discovered")
    existing = DeaNotice.objects.filter(disposal=disposal, step=step).first()
    if existing is not None:
        return existing  # a retry, or already recorded: the first stands
    notice = DeaNotice.objects.create(disposal=disposal, clinic_id=disposal.clinic_id, step=step,
                                      done_at=when, recorded_by=by,
                                      reference=actions.clean_text("reference", reference, max_length=100))
    trail.record("create", object_type="dea_notice", object_id=notice.pk,
                 detail={"disposal": disposal.pk, "step": step})
    if step == NoticeStep.WRITTEN_NOTICE:
        local = timezone.localtime(when, disposal.clinic.zone)
        alerting.answered(alerting.LOSS, disposal.pk, by=by,
                          note=f"Written notice sent to the DEA {local:%Y-%m-%d %H:%M} "
                               f"({disposal.clinic.time_zone})"
                               + (f", reference {notice.reference}" if notice.reference else ""))
    return notice


def awaiting_notice(clinic_id: int):
    """Thefts and losses whose written notice to the DEA is not recorded yet, oldest first."""
    noticed = DeaNotice.objects.filter(disposal=OuterRef("pk"), step=NoticeStep.WRITTEN_NOTICE)
    return (Disposal.objects.filter(clinic_id=clinic_id,
                                    kind__in=(DisposalKind.THEFT, DisposalKind.LOSS))
            .exclude(Exists(noticed)).select_related("clinic").order_by("happened_at", "id"))


def overdue(clinic_id: int, now: datetime | None = None) -> list[Disposal]:
    now = now or timezone.now()
    return [d for d in awaiting_notice(clinic_id) if notice_due(d) < now]


def lines_of(disposal: Disposal) -> list[LedgerLine]:
    return list(disposal.lines.select_related("lot__product", "location").order_by("id"))

