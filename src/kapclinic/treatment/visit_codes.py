"""Session visit codes for a period, as a CSV for whoever bills the clinic's sessions.

One row per session that ended with a dose given in the period (the dose's start, in the
clinic's zone): the date of service, the MRN, the protocol, drug, route, the dose given, the
visit code from ``clinical/codes/visit_codes.json`` (G2082 up to 56 mg and G2083 above for
esketamine; blank, with a note, for racemic ketamine, which has no verified code), the
observation (dose start to discharge) and who gave the dose and who discharged.

Which sessions, decided as a biller would:
- discharged: coded when the observation reached what the code includes (2 hours for the
  esketamine codes); sooner, the code is blank and the note asks for review;
- stopped after the dose: listed with its state, no code and a note to review (the visit codes
  include a completed observation; a stopped visit is coded by hand, if at all);
- cancelled, stopped before any dose, or still running: not listed (no dose, or not over).

The dose given is what the record shows was given: for a nasal spray the devices recorded
(2 devices of 28 mg: 56 mg), otherwise the dose recorded; doses marked entered in error do not
count, and several doses in one session are added up.

Cost and memory are bounded: the period is at most ``MAX_PERIOD_DAYS`` (an engineering bound,
a leap year; the reference has nothing to say on it), rows are read ``BATCH`` sessions at a
time by keyset (a fixed number of queries per batch) and streamed. The export is audited as
an ``export`` of the period and, batch by batch before its rows leave, a ``list`` entry for
each session in it (so each patient's access report shows it). Cells a spreadsheet would take
for a formula (starting with = + - @, a tab or a return) are prefixed with an apostrophe.
"""

from __future__ import annotations

import contextvars
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kapclinic.accounts.models import Clinic, Membership
from kapclinic.accounts.permissions import Action, require
from kapclinic.accounts.scoping import for_clinic
from kapclinic.audit import trail
from kapclinic.clinical.codes.visit_codes import visit_codes
from kapclinic.platform.spreadsheet import safe_cell
from kapclinic.treatment.models import (
    Administration,
    AdministrationEvent,
    AdministrationEventKind,
    SessionEvent,
    State,
)

MAX_PERIOD_DAYS = 366  # engineering bound on one export's cost: a year, leap years included
BATCH = 500
LISTED = (State.DISCHARGED, State.STOPPED)

COLUMNS = ("Date of service", "Session", "MRN", "Protocol", "Drug", "Route", "Dose given (mg)",
           "Visit code", "Code description", "Note", "Session ended", "Dose started",
           "Ended at", "Observation (min)", "Dose given by", "Monitoring clinician",
           "Supervising clinician")


class PeriodError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


YEARS = (2000, 2100)  # an engineering bound: sessions are recorded in these years


def check_period(start: date, end: date) -> None:
    """The period's days, first and last included: refused naming the field."""
    for field, day in (("from", start), ("to", end)):
        if not YEARS[0] <= day.year <= YEARS[1]:
            raise PeriodError(field, f"the year must be from {YEARS[0]} to {YEARS[1]}")
    if end < start:
        raise PeriodError("to", f"is before the first day ({start.isoformat()})")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise PeriodError("to", f"the period is {(end - start).days + 1} days; export at most "
                                f"{MAX_PERIOD_DAYS} days at a time")


# ---- the rows ------------------------------------------------------------------------------

def _first_doses(clinic_id: int, start: datetime, end: datetime):
    """Each listed session's first standing dose that started in [start, end), in order."""
    before = Q(started_at__lt=OuterRef("started_at")) | Q(started_at=OuterRef("started_at"),
                                                          pk__lt=OuterRef("pk"))
    earlier = Administration.objects.filter(before, session=OuterRef("session"),
                                            entered_in_error_at__isnull=True)
    return (for_clinic(Administration.objects.filter(
        entered_in_error_at__isnull=True, started_at__gte=start, started_at__lt=end,
        session__state__in=LISTED), clinic_id)
        .exclude(Exists(earlier)).order_by("started_at", "pk"))


def _batches(clinic_id: int, start: datetime, end: datetime) -> Iterator[list[Administration]]:
    """The first doses, ``BATCH`` at a time, by keyset on (started_at, id): each batch one
    bounded query, no cursor held open while the rows stream."""
    base = _first_doses(clinic_id, start, end).select_related("session__patient", "session__clinician")
    last: tuple[datetime, int] | None = None
    while True:
        page = base if last is None else base.filter(
            Q(started_at__gt=last[0]) | Q(started_at=last[0], pk__gt=last[1]))
        batch = list(page[:BATCH])
        if not batch:
            return
        yield batch
        last = (batch[-1].started_at, batch[-1].pk)


@dataclass(frozen=True)
class VisitRow:
    session_id: int
    patient_id: int
    cells: tuple[str, ...]


def _dose_given(administration: Administration, devices: list[AdministrationEvent]) -> float:
    """The devices recorded for a nasal spray (2 of 28 mg: 56), else the dose recorded."""
    mine = [d.device_mg or 0 for d in devices if d.administration_id == administration.pk]
    return sum(mine) if mine else administration.dose_mg


def _who(user, roles: dict[int, str]) -> str:
    if user is None:
        return ""
    role = roles.get(user.pk)
    return f"{user.display_name} ({role})" if role else user.display_name


def _rows_of(batch: list[Administration], clinic_id: int, zone: ZoneInfo,
             labels: dict[str, str]) -> list[VisitRow]:
    """The batch's rows, from four queries whatever its size."""
    session_ids = [a.session_id for a in batch]
    doses: dict[int, list[Administration]] = {}
    for a in (Administration.objects.filter(session_id__in=session_ids, entered_in_error_at__isnull=True)
              .select_related("administered_by").order_by("started_at", "pk")):
        doses.setdefault(a.session_id, []).append(a)
    devices = list(AdministrationEvent.objects.filter(
        session_id__in=session_ids, kind=AdministrationEventKind.DEVICE,
        administration__entered_in_error_at__isnull=True))
    ended = {e.session_id: e for e in SessionEvent.objects.filter(
        session_id__in=session_ids, to_state__in=LISTED).select_related("recorded_by")}
    people = {a.administered_by_id for d in doses.values() for a in d} | {
        e.recorded_by_id for e in ended.values() if e.recorded_by_id} | {
        a.session.clinician_id for a in batch if a.session.clinician_id}
    roles = dict(Membership.all_objects.filter(clinic_id=clinic_id, user_id__in=people)
                 .values_list("user_id", "role"))
    table = visit_codes()
    rows = []
    for first in batch:
        session = first.session
        given = doses.get(session.pk, [first])
        dose_mg = sum(_dose_given(a, devices) for a in given)
        end = ended.get(session.pk)
        observed = None if end is None else max(0.0, (end.at - first.started_at).total_seconds() / 60)
        coded = table.code_for(session.drug, session.route, dose_mg, ended_as=session.state,
                               observed_minutes=None if observed is None else int(observed))
        if session.protocol not in labels:
            labels[session.protocol] = session.protocol_label
        local = first.started_at.astimezone(zone)
        cells = (local.date().isoformat(), session.pk, session.patient.mrn, labels[session.protocol],
                 session.drug, session.route, f"{dose_mg:g}", coded.code, coded.description,
                 coded.note, session.get_state_display().lower(), f"{local:%Y-%m-%d %H:%M}",
                 "" if end is None else f"{end.at.astimezone(zone):%Y-%m-%d %H:%M}",
                 "" if observed is None else int(observed),
                 "; ".join(dict.fromkeys(_who(a.administered_by, roles) for a in given)),
                 "" if end is None else _who(end.recorded_by, roles),
                 _who(session.clinician, roles))  # the course's or session's, when named
        rows.append(VisitRow(session.pk, session.patient_id, tuple(safe_cell(c) for c in cells)))
    return rows


def bounds(clinic: Clinic, start: date, end: date) -> tuple[datetime, datetime]:
    """The period's first moment and the moment after its last day, in the clinic's zone."""
    zone = clinic.zone
    return (datetime.combine(start, time.min, tzinfo=zone),
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone))


def visit_rows(clinic: Clinic, start: date, end: date) -> Iterator[list[VisitRow]]:
    """The period's rows, a batch at a time (``check_period`` first)."""
    check_period(start, end)
    first, after = bounds(clinic, start, end)
    labels: dict[str, str] = {}
    for batch in _batches(clinic.pk, first, after):
        yield _rows_of(batch, clinic.pk, clinic.zone, labels)


def audit_export(clinic: Clinic, start: date, end: date) -> None:
    trail.record("export", object_type="visit_codes", object_id=f"{start.isoformat()}..{end.isoformat()}",
                 clinic_id=clinic.pk, detail={"from": start.isoformat(), "to": end.isoformat()})


def csv_lines(clinic: Clinic, start: date, end: date) -> Iterator[str]:
    """The CSV, a batch at a time: the header, then each batch's rows once its sessions are
    written to the audit trail as listed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush(rows: Iterable[tuple[str, ...]]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows)
        return buffer.getvalue()

    yield flush([COLUMNS])
    for rows in visit_rows(clinic, start, end):
        trail.record_many([trail.Event("list", "session", r.session_id, patient_id=r.patient_id,
                                       detail={"export": "visit_codes"}) for r in rows])
        yield flush(r.cells for r in rows)


def in_context(lines: Iterator[str], ctx: contextvars.Context) -> Iterator[str]:
    """Run each step of ``lines`` in ``ctx``: a streamed response is read after the request's
    middleware has returned, and the audit entries must still name the person who asked."""
    while True:
        try:
            yield ctx.run(next, lines)
        except StopIteration:
            return


# ---- the page and the download -------------------------------------------------------------

class PeriodForm(forms.Form):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, label, help_text in (
                ("from", "From", "the first day, in the clinic's time zone"),
                ("to", "To", f"the last day (at most {MAX_PERIOD_DAYS} days after the first)")):
            attrs = {"type": "date", "aria-describedby": f"id_{name}-help"}
            self.fields[name] = forms.DateField(label=label, help_text=help_text,
                                                widget=forms.DateInput(attrs=attrs))

    def clean(self):
        data = super().clean()
        if data.get("from") and data.get("to"):
            try:
                check_period(data["from"], data["to"])
            except PeriodError as exc:
                self.add_error(exc.field, exc.message)
        return data


def _page(request: HttpRequest, form: PeriodForm, status: int = 200) -> HttpResponse:
    table = visit_codes()
    return render(request, "treatment/visit_codes.html", {
        "form": form, "max_days": MAX_PERIOD_DAYS, "columns": COLUMNS,
        "visits": table.visits, "table": table}, status=status)


@require(Action.SESSION_VISIT_CODES)
@require_GET
def visit_codes_page(request: HttpRequest) -> HttpResponse:
    """The period form (no health information shown: not audited)."""
    today = datetime.now(request.membership.clinic.zone).date()
    first_of_month = today.replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    return _page(request, PeriodForm(initial={"from": last_month_end.replace(day=1), "to": last_month_end}))


@require(Action.SESSION_VISIT_CODES)
@require_GET
def visit_codes_csv(request: HttpRequest) -> HttpResponse:
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return _page(request, form, status=422)
    clinic = request.membership.clinic
    start, end = form.cleaned_data["from"], form.cleaned_data["to"]
    audit_export(clinic, start, end)
    response = StreamingHttpResponse(in_context(csv_lines(clinic, start, end), contextvars.copy_context()),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (f'attachment; filename="visit-codes-{clinic.slug}-'
                                       f'{start.isoformat()}-to-{end.isoformat()}.csv"')
    return response

