"""Monitor messages stored: each read, matched to a session in progress (PID-3 as the patient's
MRN, else the sending device's room and chair), its vitals recorded through the same checks as
typed readings (treatment.vitals: plausibility limits and monitoring rules, alerts), and the
message kept as received. A message for no known patient or device waits in the unmatched
queue; nothing is dropped. The ACK is written by the caller only after the transaction has
committed.

``receive_batch`` stores what a listener received together in one transaction (one commit, one
fsync) and as a batch: a few queries for all of it (resends, patients, sessions, monitors, each
session's state read once) and bulk inserts (messages, readings, their audit entries), so a
listener serving many monitors keeps up with them."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from kapclinic.accounts.models import Clinic, User
from kapclinic.accounts.scoping import for_clinic
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.audit.models import UNCHANGING_ACTIONS, AuditEntry
from kapclinic.clinical.monitoring import devices, rule_fields, worse
from kapclinic.patients.models import Patient
from kapclinic.treatment import vitals
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import (
    IN_PROGRESS,
    MessageStatus,
    MonitorMessage,
    Session,
    VitalReading,
)
from kapclinic.treatment.monitors import pcd01, queries
from kapclinic.treatment.monitors.memory import Memory

log = logging.getLogger("kapclinic.monitors")
# a monitor's reading reaches the record when it is sent or assigned, not typed at the time
LATE = "Sent by a bedside monitor"
CLOCK_AHEAD = timedelta(minutes=1)


@dataclass(frozen=True)
class Answer:
    code: str      # AA, AE or AR
    ack: str | None  # the ACK message to send back (None: the sender asked for none)
    stored: int    # readings stored (0 for a resend or an unmatched message)


def parsed(raw: str, clinic: Clinic, authorities: frozenset[str] = frozenset()
           ) -> pcd01.Message | pcd01.Unreadable:
    """The message read, or why it cannot be (the listener reads each as it arrives, while its
    writer is busy with the batch before). ``authorities``: the assigning authorities (PID-3.4,
    casefolded) under which the clinic issues MRNs; an id issued under another is not taken for
    one (none given: every id is)."""
    try:
        message = pcd01.parse(raw, clinic.zone)
        message.keep_ids_issued_by(authorities)
        return message
    except pcd01.Unreadable as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - whatever a message trips in the reader, it is refused (AR)
        return pcd01.Unreadable(f"HL7 could not be read ({type(exc).__name__})")


def receive_batch(raws: Sequence[tuple[str, str]], *, clinic: Clinic,
                  writing: contextlib.AbstractContextManager | None = None,
                  memory: Memory | None = None,
                  read_already: Sequence[pcd01.Message | pcd01.Unreadable | None] | None = None,
                  authorities: frozenset[str] = frozenset()) -> list[Answer]:
    """Each (raw message, sender address) stored in one transaction; the answers in order.

    The batch is read and weighed first (resends, patients, sessions, monitors, each session's
    state, the monitoring rules: a few queries for all of it, no write), then written in the
    writer's turn (bulk inserts, the audit trail, alerts, one commit), so a listener's
    processes read and weigh side by side and take turns only to write. What was read may be
    a batch's time older than the write: as if the messages had come that much earlier. Should
    the database refuse the batch (another connection stored the same message or reading a
    moment before), each message is read and stored again alone, in the turn and in a
    savepoint, and one it refuses is answered AE while the others are kept. If the commit
    itself fails every message is answered AE, so each monitor sends again. ``writing``: held
    while the transaction runs (workers.Turns: SQLite's one writer at a time, taken in turn by
    a listener's processes). ``memory``: what this listener's writer remembers of the patients
    and sessions from one batch to the next (monitors.memory), checked before it is used.
    ``read_already``: each message as ``parsed`` read it (None: read it now, with
    ``authorities``)."""
    readable: list[tuple[int, pcd01.Message, str, str]] = []
    answers: list[Answer | None] = []
    for (raw, peer), message in zip(raws, read_already or [None] * len(raws), strict=True):
        if message is None:
            message = parsed(raw, clinic, authorities)
        if isinstance(message, pcd01.Message):
            readable.append((len(answers), message, raw, peer))
            answers.append(None)
        else:
            # why goes back in the ACK's ERR; the log keeps no text the sender wrote (MSH-9 may be any)
            log.warning("monitor message from %s refused: not a readable ORU^R01", peer or "?")
            answers.append(Answer("AR", pcd01.ack(None, "AR", error=str(message), raw=raw), 0))
    items = [(message, raw, peer) for _, message, raw, peer in readable]
    try:
        weighed = read(items, clinic=clinic, by=None, memory=memory) if items else None
    except Exception as exc:  # noqa: BLE001 - read again in the turn, message by message
        log.error("monitor batch of %d not read before its turn: %s", len(items), type(exc).__name__)
        weighed = None
    try:
        with writing or contextlib.nullcontext(), transaction.atomic():
            outcomes = _store_all(items, clinic, weighed, memory)
    except DatabaseError as exc:
        log.error("monitor batch of %d not committed: %s", len(raws), type(exc).__name__)
        outcomes = [("AE", 0, "the clinic's database did not store it; send it again")] * len(readable)
    for (index, message, _, _), (code, stored, error) in zip(readable, outcomes, strict=True):
        answers[index] = Answer(code, pcd01.ack(message, code, error=error), stored)  # after the commit
    return [answer for answer in answers if answer is not None]


def receive(raw: str, *, clinic: Clinic, peer: str = "") -> Answer:
    return receive_batch([(raw, peer)], clinic=clinic)[0]


def _store_all(items: list[tuple[pcd01.Message, str, str]], clinic: Clinic,
               weighed: Weighed | None, memory: Memory | None = None) -> list[tuple[str, int, str]]:
    """Each item's (ACK code, readings stored, error for the ACK)."""
    if not items:
        return []
    if weighed is not None or len(items) == 1:
        try:
            with transaction.atomic():
                return [("AA", n, "") for n in store(items, clinic=clinic, by=None, weighed=weighed,
                                                     memory=memory)]
        except Exception as exc:  # noqa: BLE001 - whatever one message caused, the others are kept
            if len(items) == 1:
                return [_refused(items[0], clinic, exc)]
    outcomes = []
    for item in items:  # the batch was refused: each alone, so one message spoils no other
        try:
            with transaction.atomic():
                outcomes.append(("AA", store([item], clinic=clinic, by=None, memory=memory)[0], ""))
        except Exception as exc:  # noqa: BLE001 - answered AE; the monitor resends it
            outcomes.append(_refused(item, clinic, exc))
    return outcomes


def _refused(item: tuple[pcd01.Message, str, str], clinic: Clinic,
             exc: Exception) -> tuple[str, int, str]:
    message, raw, _ = item
    if isinstance(exc, IntegrityError) and raw in MonitorMessage.objects.filter(
            clinic=clinic, sender=message.sender, control_id__in=_control_ids(message, raw),
    ).values_list("raw", flat=True):
        return ("AA", 0, "")  # stored a moment ago from elsewhere
    # the control id is the sender's text: the log names the message by a hash of it
    log.error("monitor message #%s not stored: %s", hashlib.sha256(raw.encode()).hexdigest()[:12],
              type(exc).__name__)
    return ("AE", 0, "not stored; send it again")


@dataclass
class Weighed:
    """A batch read and weighed, nothing written yet: the messages to keep (resends left out)
    and the readings of those matched to sessions, with the alerts they fire."""

    items: Sequence[tuple[pcd01.Message, str, str]]
    kept: list[MonitorMessage]
    recording: Recording
    directory: Directory
    clinic_id: int
    seen: dict[int, int]  # the last audit entry of each patient it names, when read (with memory)

    def still_current(self) -> bool:
        """Whether the patients, sessions and monitors the batch was matched and weighed
        against are as they were read (every change to a patient's records is audited with the
        patient; a session's every step moves its version; a monitor moved or retired changes
        its room, chair or flag): a query each, in the writer's turn."""
        if self.seen and trail.last_changes(self.seen) != self.seen:
            return False
        sessions = self.directory.sessions_seen()
        if sessions and queries.session_versions(sessions) != sessions:
            return False
        devices = self.directory.devices
        return not devices or queries.placements(self.clinic_id, devices, active_only=False) == devices


def read(items: Sequence[tuple[pcd01.Message, str, str]], *, clinic: Clinic,
         by: User | None, memory: Memory | None = None) -> Weighed:
    """Each (message, raw, sender address) matched and its vitals weighed, reading only: a few
    queries for the whole batch. A resend is left out (answered again, stored once); another
    message reusing a control id (a monitor restarted its counter) is kept under the id with
    its hash. With ``memory``, the patients and sessions it remembers are used while their
    patients' last audit entries are the ones it knew."""
    if memory is not None:
        memory.check_settings(clinic.pk)
    fresh = _fresh(items, clinic)
    directory = Directory.of([message for message, _, _, _ in fresh], clinic, memory)
    kept: list[MonitorMessage] = []
    matched: list[tuple[MonitorMessage, pcd01.Message, Session]] = []
    for message, raw, peer, control_id in fresh:
        patient, session, reason = match(message, directory)
        row = MonitorMessage(
            clinic=clinic, sender=message.sender, control_id=control_id, peer=peer[:64],
            raw=raw, reason=reason[:300], patient_ref=message.patient_ref,
            device_ids=message.device_ids[:20], patient=patient, session=session,
            received_at=timezone.now(), status=MessageStatus.UNMATCHED)
        row.message = message
        kept.append(row)
        if session is not None:
            matched.append((row, message, session))
    seen: dict[int, int] = {}
    if memory is not None:
        seen = trail.last_changes({p.pk for p in directory.patients.values()} |
                            {session.patient_id for _, _, session in matched})
        stale = [mrn for mrn, last in directory.remembered.items()
                 if seen.get(directory.patients[mrn].pk) != last]
        if stale:  # their records changed since: read them again
            memory.forget(stale)
            return read(items, clinic=clinic, by=by, memory=memory)
        # a patient read now is stamped with the change read with them: one made since then is
        # caught in the writer's turn (the batch is read again) and never taken as known
        seen.update(directory.stamps)
    recording = Recording([(message, session) for _, message, session in matched], clinic_id=clinic.pk,
                          by=by, memory=memory, seen=seen)
    for row, message, session in matched:
        recording.take(row, message, session)
    return Weighed(items, kept, recording, directory, clinic.pk, seen)


@action
def store(items: Sequence[tuple[pcd01.Message, str, str]], *, clinic: Clinic,
          by: User | None, weighed: Weighed | None = None, memory: Memory | None = None) -> list[int]:
    """Keep each (message, raw, sender address) and record its vitals; returns how many
    readings each stored (0 for a resend). ``weighed``: the batch as ``read`` found it before
    the writer's turn (read now when not given). Bulk inserts for the whole batch."""
    # from the check to the commit nobody else appends to the trail (on SQLite the writer's
    # turn already is the database's one writer): the patients' last entries are then known
    trail.lock_chain()
    if weighed is None or weighed.items is not items or not weighed.still_current():
        weighed = read(items, clinic=clinic, by=by, memory=memory)  # in the turn: nothing changes
    kept = weighed.kept
    MonitorMessage.objects.bulk_insert(kept)
    written = weighed.recording.write([
        trail.Event("create", "monitor_message", row.pk, row.patient_id,
                    {"status": row.status, "sender": row.sender[:80]}, clinic.pk) for row in kept])
    if memory is not None and weighed.seen and written:
        _remember(memory, weighed, written)
    stored = {id(row.message): row.readings for row in kept}
    return [stored.get(id(message), 0) for message, _, _ in items]


def _remember(memory: Memory, weighed: Weighed, written: list[AuditEntry]) -> None:
    """Once committed, the memory moves on to the batch's patients and sessions, each patient
    with their last audit entry as the batch leaves it: its own last entry for them, else the
    one checked in the turn (the batch holds the trail's lock from that check to its commit,
    so nobody else wrote one meanwhile). Nothing written (resends only): what it remembers
    still holds."""
    last = dict(weighed.seen)
    for entry in written:  # in the order written
        if entry.patient_id in last and entry.action not in UNCHANGING_ACTIONS:
            last[entry.patient_id] = entry.seq
    sessions = [ctx for ctx in weighed.recording.sessions.values() if isinstance(ctx, vitals.SessionVitals)]
    transaction.on_commit(functools.partial(
        memory.remember, patients=weighed.directory.patients, in_progress=weighed.directory.in_progress,
        sessions=sessions, last=last))


def _control_ids(message: pcd01.Message, raw: str) -> tuple[str, str]:
    """The control id a message is kept under, and the one it gets when another message
    reused its id (the id with the message's hash)."""
    return (message.control_id,
            f"{message.control_id[:50]}~{hashlib.sha256(raw.encode()).hexdigest()[:12]}")


def _fresh(items: Sequence[tuple[pcd01.Message, str, str]], clinic: Clinic) -> list:
    """(message, raw, peer, control id to keep it under) for the items that are not resends
    (one query for the batch)."""
    ids = {id(m): _control_ids(m, raw) for m, raw, _ in items}
    stored = queries.stored_messages(clinic.pk, {m.sender for m, _, _ in items},
                                     {i for pair in ids.values() for i in pair})
    fresh = []
    for message, raw, peer in items:
        control_id, hashed = ids[id(message)]
        same_id = stored.get((message.sender, control_id))
        if same_id is not None:
            if same_id == raw:
                continue
            control_id = hashed
            if (message.sender, control_id) in stored:
                continue
        stored[(message.sender, control_id)] = raw  # a second copy in this batch
        fresh.append((message, raw, peer, control_id))
    return fresh


class Recording:
    """The readings of messages matched to sessions, weighed session by session
    (treatment.vitals: each session read once for the batch) and written together; each
    reading raises its alerts as a typed one does."""

    def __init__(self, matched: Sequence[tuple[pcd01.Message, Session]], *, clinic_id: int,
                 by: User | None, memory: Memory | None = None, seen: dict[int, int] | None = None) -> None:
        self.by = by
        session_ids = {session.pk for _, session in matched}
        self.sessions: dict[int, vitals.SessionVitals | FieldError] = {}
        if memory is not None:
            for session_id in session_ids:
                remembered = memory.vitals(session_id, seen or {})
                if remembered is not None:
                    self.sessions[session_id] = remembered
        self.sessions.update(vitals.load_many(session_ids - set(self.sessions), clinic_id=clinic_id))
        self.prepared: list[tuple[vitals.SessionVitals, vitals.Prepared]] = []
        # the batch's readings already stored: those at the times its messages name (a
        # reading's fingerprint includes its time), one query
        self.times = {o.observed_at for message, _ in matched for o in message.observations
                      if o.observed_at is not None}
        self.prints = queries.fingerprints(session_ids, self.times)
        # a stream's rule firing again, no worse, while its alert is open counts on that alert
        self.open_alerts = queries.open_alerts(clinic_id, {s.pk: s.patient_id for _, s in matched})
        self.again: dict[int | tuple, list[Firing]] = {}
        self.measured: dict[int, list[tuple[datetime, frozenset[str]]]] = {}  # the batch's readings so far

    def stored_before(self, ctx: vitals.SessionVitals, row: VitalReading) -> bool:
        key = (ctx.session.pk, row.fingerprint)
        if key not in self.prints and row.observed_at not in self.times and VitalReading.objects.filter(
                session=ctx.session, fingerprint=row.fingerprint).exists():
            self.prints.add(key)  # a time the message did not name (received, or clamped)
        return key in self.prints

    def take(self, kept: MonitorMessage, message: pcd01.Message, session: Session) -> None:
        """The message's vitals as readings of ``session`` (one per observation time), to be
        written; what the record cannot keep is noted on the message with why."""
        groups, not_stored, sent_codes, spares = readings_of(message, fallback=kept.received_at)
        device = message.device or message.sender[:100]
        ctx = self.sessions.get(session.pk) or FieldError("session", "is not a session of this clinic")
        stored = 0
        for observed_at, values in sorted(groups.items()):
            sent, spare = sent_codes[observed_at], spares.get(observed_at, {})
            if observed_at > kept.received_at + CLOCK_AHEAD:  # the monitor's clock runs ahead
                not_stored.append({"why": f"the monitor's time {observed_at:%H:%M:%S} was ahead of "
                                          "the clinic's clock: recorded at the time received"})
                observed_at = kept.received_at
            while values:
                try:
                    if isinstance(ctx, FieldError):
                        raise ctx
                    prepared = vitals.prepare(ctx, observed_at=observed_at, values=values,
                                              by=self.by, source="device", device=device,
                                              late_reason=LATE)
                except FieldError as exc:
                    if exc.field in values:  # implausible: kept on the message, the rest recorded
                        not_stored.append({"field": exc.field, "value": values.pop(exc.field),
                                           "why": exc.message})
                        _second_choice(exc.field, values, sent, spare, not_stored)
                        continue
                    not_stored += [{"field": f, "value": v, "why": exc.message}
                                   for f, v in values.items()]
                    break
                prepared.row.mdc_codes = {field: code for field, code in sent.items() if field in values}
                if not self.stored_before(ctx, prepared.row):
                    self.prints.add((ctx.session.pk, prepared.row.fingerprint))
                    prepared.fired = self._raising(ctx, prepared)
                    vitals.took(ctx, prepared.row)
                    self.prepared.append((ctx, prepared))
                    stored += 1
                break
        kept.readings = stored
        kept.not_stored = not_stored[:100]
        kept.status = MessageStatus.STORED if stored or not not_stored else MessageStatus.NOTHING

    def _raising(self, ctx: vitals.SessionVitals, prepared: vitals.Prepared) -> list:
        """The rules the reading fired that raise an alert: each with no alert open for its
        session; or with one open that shows the patient better than this reading does
        (clinical.monitoring.worse); or whose rule has not fired since a reading of the session
        that measured one of its vitals and did not fire it (the patient recovered: a new
        episode; a reading without those vitals says nothing of them). Any other firing is counted
        on the open alert (_fired_again) instead of raising one for every reading of a stream."""
        raising: list = []
        values, seen = vitals.values_of(prepared.row), set()
        earlier = self.measured.setdefault(ctx.session.pk, [])
        for fired in prepared.fired:
            if fired.rule in seen:
                continue  # the same rule named twice
            seen.add(fired.rule)
            key = (ctx.session.pk, fired.rule)
            found = self.open_alerts.get(key)
            recovered = found is not None and (found.recovered or any(
                at > found.last_fired and fields & rule_fields(fired.rule) for at, fields in earlier))
            if found is not None and not recovered and not worse(fired.rule, ctx.rules, values, found.shown):
                self.again.setdefault(found.alert, []).append((ctx, prepared.row, fired))
                latest = max(found.last_fired, prepared.row.observed_at)
                self.open_alerts[key] = found._replace(last_fired=latest)
                continue
            # raised by this reading: the batch's later readings are weighed against it
            self.open_alerts[key] = queries.OpenAlert((*key, prepared.row.fingerprint), values,
                                                      prepared.row.observed_at)
            raising.append(fired)
        earlier.append((prepared.row.observed_at, frozenset(values)))
        return raising

    def write(self, events: list[trail.Event]) -> list[AuditEntry]:
        """The readings in one insert, then the alerts they fired in another, and the open
        alerts they fired again counted; ``events``, the readings' and the alerts' in one
        stretch of the audit trail, whose entries it returns."""
        rows = [prepared.row for _, prepared in self.prepared]
        VitalReading.objects.bulk_insert(rows)
        alerts, alert_events = vitals.raise_for_new_readings([
            (ctx, prepared.row, prepared.fired) for ctx, prepared in self.prepared if prepared.fired])
        row_of = {row.pk: row for row in rows}
        raised = {(row_of[a.record_id].session_id, a.kind, row_of[a.record_id].fingerprint): a.pk
                  for a in alerts}
        alert_events += _fired_again({raised[key] if isinstance(key, tuple) else key: firings
                                      for key, firings in self.again.items()})
        return trail.record_many(events + [trail.Event("create", "vital_reading", row.pk, row.patient_id,
                                                        vitals.audit_detail(row)) for row in rows]
                                 + alert_events)


@dataclass(frozen=True)
class Spare:
    """A second value of a vital at the same moment (an oximeter's pulse beside the ECG's heart
    rate): not recorded while the preferred one is, recorded should that one be refused."""

    value: float
    code: str      # its MDC code
    label: str
    note: dict     # its entry among what is not stored, while it is not


Firing = tuple[vitals.SessionVitals, VitalReading, Any]  # a reading and the rule it fired


def _fired_again(again: dict[int, list[Firing]]) -> list[trail.Event]:
    """Each open alert's firings by a monitor's readings written a moment ago, no worse than it
    shows: the alert counts them and shows the latest one's values, rather than a new alert for
    every reading of the stream (one statement for the batch). Should an alert have been
    acknowledged or marked in error since it was read, the first of its firings raises a new
    alert and each later one counts on the newest alert raised, or raises its own if worse
    than it shows. Returns the audit events for the caller to write."""
    in_order = {alert_id: sorted(firings, key=lambda firing: (firing[1].observed_at, firing[1].pk))
                for alert_id, firings in again.items()}
    counted = queries.count_again([
        queries.Count(alert_id, len(firings), firings[-1][1].observed_at,
                      (firings[-1][2].findings or firings[-1][2].label)[:300])
        for alert_id, firings in in_order.items()])
    events: list[trail.Event] = []
    for alert_id, firings in in_order.items():
        if alert_id in counted:
            ctx, last, _ = firings[-1]
            events.append(trail.Event("update", "alert", alert_id, ctx.session.patient_id,
                                      {"fired_again": len(firings), "last_reading": last.pk},
                                      ctx.session.patient.clinic_id))
        else:
            events += _closed_meanwhile(firings)
    return events


def _closed_meanwhile(firings: list[Firing]) -> list[trail.Event]:
    """Firings meant for an alert closed since the batch was read: the first raises a new
    alert, each later one counts on the newest raised or, if worse than it shows, raises its own."""
    events: list[trail.Event] = []
    newest, shown, counted = 0, {}, []
    for firing in firings:
        ctx, row, fired = firing
        values = vitals.values_of(row)
        if newest and not worse(fired.rule, ctx.rules, values, shown):
            counted.append(firing)
            continue
        if counted:
            events += _fired_again({newest: counted})
        alerts, raised = vitals.raise_for_new_readings([(ctx, row, [fired])])
        events += raised
        newest, shown, counted = alerts[0].pk, values, []
    return events + (_fired_again({newest: counted}) if counted else [])


def _second_choice(name: str, values: dict, sent: dict, spare: dict[str, list[Spare]],
                   not_stored: list[dict]) -> None:
    """The vital's next value of the same moment, if the monitor sent one, takes the place of
    one refused: recorded, and no longer among what is not stored."""
    if not spare.get(name):
        return
    chosen = spare[name].pop(0)
    values[name], sent[name] = chosen.value, chosen.code
    not_stored.remove(chosen.note)
    for other in spare[name]:
        other.note["why"] = _instead(chosen.label)


def readings_of(message: pcd01.Message, *, fallback: datetime,
                ) -> tuple[dict, list[dict], dict, dict[datetime, dict[str, list[Spare]]]]:
    """The message's values by observation time ({time: {field: value}}), what is not kept (an
    observation whose OBX-11 says it is no result to record: X invalid, W wrong, D deleted; one
    that is not a single number, by OBX-2 or OBX-5; an unknown code or unit; a second value of
    the same vital at the same time), the MDC code
    each kept value was sent with ({time: {field: code}}), and the second values
    ({time: {field: [Spare]}}). Of two values of one vital at one moment the one whose code the
    reference lists first is kept (the ECG's heart rate before an oximeter's or a cuff's pulse),
    else the one sent first."""
    candidates: dict[tuple[datetime, str], list[tuple[int, int, float, devices.Measurement, str, str]]] = {}
    not_stored: list[dict] = []
    for order, obs in enumerate(message.observations):
        if not obs.values_sent or devices.is_container(obs.code, obs.refid):
            continue  # no value (a device or channel row), or a compound's heading
        sent = obs.code or obs.refid or obs.code_first[0]
        why = obs.not_a_result or obs.not_a_number
        if why:  # the first of several parts, marked as one of more
            shown = obs.value[:40] + (" …" if obs.values_sent > 1 else "")
            not_stored.append({"code": sent, "value": shown, "why": why})
            continue
        value = devices.reading(obs.code, obs.value, obs.unit, refid=obs.refid, unit_name=obs.unit_name)
        if not value.problem and value.measurement is not None:
            value = replace(value, problem=devices.disagreement(value.measurement, value.ucum, obs.code_first,
                                                                obs.unit_first))
        if value.problem:
            not_stored.append({"code": sent, "value": obs.value[:40], "why": value.problem})
            continue
        assert value.measurement is not None and value.measurement.field is not None
        assert value.value is not None
        at = obs.observed_at or fallback
        candidates.setdefault((at, value.measurement.field), []).append(
            (devices.preference(value.measurement.code), order, value.value, value.measurement, sent,
             obs.value[:40]))
    groups: dict[datetime, dict[str, float]] = {}
    sent_codes: dict[datetime, dict[str, str]] = {}
    spares: dict[datetime, dict[str, list[Spare]]] = {}
    for (at, name), found in candidates.items():
        (_, _, value, kept, _, _), *others = sorted(found, key=lambda c: c[:2])
        groups.setdefault(at, {})[name] = value
        sent_codes.setdefault(at, {})[name] = kept.code
        for _, _, other, measurement, sent, raw in others:
            note = {"code": sent, "value": raw, "why": _instead(kept.label)}
            not_stored.append(note)
            spares.setdefault(at, {}).setdefault(name, []).append(
                Spare(other, measurement.code, measurement.label, note))
    return groups, not_stored, sent_codes, spares


def _instead(label: str) -> str:
    return f"the same moment's {label[0].lower()}{label[1:]} is recorded instead"


@dataclass
class Directory:
    """Who a batch's messages may belong to, read once for the batch: the patients its MRNs
    name and their sessions in progress, the registered monitors its device ids name and the
    sessions in progress in their rooms."""

    patients: dict[str, Patient]
    in_progress: dict[int, Session]        # by patient id: the latest booked in progress
    devices: dict[str, queries.Placement]  # the active registered monitors its ids name
    in_rooms: dict[str, list[Session]]
    remembered: dict[str, int] = field(default_factory=dict)  # MRNs from memory: their last change then
    stamps: dict[int, int] = field(default_factory=dict)  # patients read now: their last change with them

    def sessions_seen(self) -> dict[int, int]:
        """The version of each session the batch could be matched to."""
        seen = {s.pk: s.version for s in self.in_progress.values()}
        seen.update((s.pk, s.version) for sessions in self.in_rooms.values() for s in sessions)
        return seen

    @classmethod
    def of(cls, messages: Sequence[pcd01.Message], clinic: Clinic,
           memory: Memory | None = None) -> Directory:
        patients: dict[str, Patient] = {}
        in_progress: dict[int, Session] = {}
        remembered: dict[str, int] = {}
        refs = {ref for m in messages for ref in m.patient_refs}
        for ref in list(refs) if memory is not None else ():
            known = memory.patient(ref)
            if known is not None:
                patient, session, remembered[ref] = known
                patients[ref] = patient
                if session is not None:
                    in_progress[patient.pk] = session
                refs.discard(ref)
        asked: list[Patient] = []
        stamps: dict[int, int] = {}
        found: Iterable[Patient] = ()
        if refs:
            found = for_clinic(Patient, clinic.pk).filter(mrn__in=refs).only("id", "mrn", "clinic_id")
            if memory is not None:  # each patient's last change read with it, before anything of theirs
                found = found.annotate(last_change=trail.last_change_of_patient())
        for patient in found:
            if patient.mrn not in patients:
                patients[patient.mrn] = patient
                asked.append(patient)
                if memory is not None:
                    stamps[patient.pk] = patient.last_change or 0
        for session in (for_clinic(Session, clinic.pk).filter(
                patient__in=asked, state__in=IN_PROGRESS).order_by("-scheduled_at") if asked else ()):
            in_progress.setdefault(session.patient_id, session)
        ids = {i for m in messages for i in m.placing_ids}
        devices = queries.placements(clinic.pk, ids, active_only=True)
        in_rooms: dict[str, list[Session]] = {}
        rooms = {d.room for d in devices.values()}
        for session in (for_clinic(Session, clinic.pk).filter(state__in=IN_PROGRESS, room__in=rooms)
                        .select_related("patient").order_by("pk") if rooms else ()):
            in_rooms.setdefault(session.room, []).append(session)
        return cls(patients, in_progress, devices, in_rooms, remembered, stamps)


def match(message: pcd01.Message, directory: Directory) -> tuple[Patient | None, Session | None, str]:
    """The patient and session in progress the message belongs to, or why none: PID-3 as the
    patient's MRN in this clinic, and a registered monitor's room and chair; when both name a
    session and they differ, neither is trusted (the nurse assigns it); nor is the message when
    PID-3's identifiers name more than one patient."""
    named = {p.pk: p for p in (directory.patients.get(ref) for ref in message.patient_refs) if p}
    if len(named) > 1:
        return None, None, (f"its patient identifiers name {len(named)} patients "
                            f"({', '.join(sorted(p.mrn for p in named.values()))})")
    by_mrn = _by_mrn(message, directory)
    by_chair = _by_chair(message, directory)
    if by_mrn[1] is not None and by_chair[1] is not None and by_mrn[1] != by_chair[1]:
        return by_mrn[0], None, (f"the MRN names {by_mrn[0].mrn}'s session but the monitor stands at "
                                 "another patient's chair")
    if by_mrn[1] is not None:
        return by_mrn
    # the message names a patient the chair's session is not for: a nurse decides
    if message.foreign_ids and by_mrn[0] is None:  # another hospital's patient, it says
        return None, None, _no_patient_words(message) + (
            "; the monitor's chair is not trusted against it" if by_chair[1] is not None else "")
    if by_mrn[0] is not None and by_chair[1] is not None:
        return by_mrn[0], None, (f"the MRN names {by_mrn[0].mrn}, who has no session in progress, "
                                 "but the monitor stands at another patient's chair")
    if by_chair[1] is not None:
        return by_chair
    if by_mrn[0] is not None:
        return by_mrn
    if by_chair[2]:
        return by_chair
    return None, None, f"{_no_patient_words(message)}, and the monitor is not registered to a room"


def _no_patient_words(message: pcd01.Message) -> str:
    refs = " or ".join(message.patient_refs)
    if refs:
        return f"no patient with MRN {refs}"
    if message.foreign_ids:
        return ("no patient id issued by this clinic (it sent "
                f"{', '.join(i.words for i in message.foreign_ids[:3])})")
    return "no patient id"


def _by_mrn(message: pcd01.Message, directory: Directory) -> tuple[Patient | None, Session | None, str]:
    patient = next((directory.patients[ref] for ref in message.patient_refs if ref in directory.patients),
                   None)
    if patient is None:
        return None, None, ""
    session = directory.in_progress.get(patient.pk)
    if session is None:
        return patient, None, f"patient {patient.mrn} has no session in progress"
    return patient, session, ""


def _by_chair(message: pcd01.Message, directory: Directory) -> tuple[Patient | None, Session | None, str]:
    """The session at the chair of the first registered id (the device's own before the
    sender's): exactly one session in progress there, or why not."""
    device = next((directory.devices[i] for i in message.placing_ids if i in directory.devices), None)
    if device is None:
        return None, None, ""
    found = [s for s in directory.in_rooms.get(device.room, [])
             if not device.chair or s.chair == device.chair]
    place = f"{device.room} {device.chair}".strip()
    if len(found) == 1:
        return found[0].patient, found[0], ""
    if found:
        return None, None, f"more than one session in progress at {place}"
    return None, None, f"no session in progress at {place}"


@action
def assign(kept: MonitorMessage, session: Session, *, by: User) -> int:
    """A nurse assigns an unmatched message to a session in progress: its vitals are recorded
    there, and the message says who assigned it (once). The readings are the monitor's (no one
    recorded them); the audit entries of the assignment, the readings and the alerts they fire
    name the nurse who assigned them, as for readings typed at the bedside."""
    if kept.status != MessageStatus.UNMATCHED:
        raise FieldError("message", "is not waiting to be assigned")
    if session.state not in IN_PROGRESS:
        raise FieldError("session", "is not in progress: choose a session in a chair now")
    if kept.patient_id is not None and kept.patient_id != session.patient_id:
        raise FieldError("session", "is another patient's: the message names a patient by MRN")
    try:
        message = pcd01.parse(kept.raw, kept.clinic.zone)
    except pcd01.Unreadable as exc:  # kept before a rule that now refuses it (two patients in one)
        raise FieldError("message", f"cannot be assigned: {exc}") from None
    if MonitorMessage.objects.filter(pk=kept.pk, status=MessageStatus.UNMATCHED).update(
            status=MessageStatus.ASSIGNED, session=session, patient=session.patient,
            assigned_at=timezone.now(), assigned_by=by) != 1:
        raise FieldError("message", "was assigned by someone else meanwhile")
    trail.record("update", object_type="monitor_message", object_id=kept.pk,
                 patient_id=session.patient_id, detail={"assigned_to_session": session.pk})
    kept.refresh_from_db()
    # the monitor measured them: the readings are not the nurse's; assigned_by says who placed them
    recording = Recording([(message, session)], clinic_id=kept.clinic_id, by=None)
    recording.take(kept, message, session)
    if not kept.readings:
        raise FieldError("session", "took none of the message's readings (see why on the message): "
                                    "nothing was assigned")
    recording.write([])
    MonitorMessage.objects.filter(pk=kept.pk).update(readings=kept.readings, not_stored=kept.not_stored,
                                                     status=MessageStatus.ASSIGNED)
    return kept.readings
