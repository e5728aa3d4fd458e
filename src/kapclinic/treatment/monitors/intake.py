"""One monitor message stored: read, matched to a session in progress (PID-3 as the patient's
MRN, else the sending device's room and chair), its vitals recorded through the same path as
typed readings (plausibility limits and monitoring rules, alerts), and the message kept as
received. A message for no known patient or device waits in the unmatched queue; nothing is
dropped. The ACK is written by the caller only after the transaction has committed.

``receive_batch`` stores several messages in one transaction (one commit, one fsync), each in
its own savepoint, so a listener serving many monitors commits in groups."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from kapclinic.accounts.models import Clinic, User
from kapclinic.accounts.scoping import for_clinic
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.clinical.monitoring import devices
from kapclinic.patients.models import Patient
from kapclinic.treatment import actions
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import (
    IN_PROGRESS,
    MessageStatus,
    MonitorDevice,
    MonitorMessage,
    Session,
)
from kapclinic.treatment.monitors import pcd01

log = logging.getLogger("kapclinic.monitors")
# a monitor's reading reaches the record when it is sent or assigned, not typed at the time
LATE = "Sent by a bedside monitor"
CLOCK_AHEAD = timedelta(minutes=1)


@dataclass(frozen=True)
class Answer:
    code: str      # AA, AE or AR
    ack: str       # the ACK message to send back
    stored: int    # readings stored (0 for a resend or an unmatched message)


def receive_batch(raws: Sequence[tuple[str, str]], *, clinic: Clinic) -> list[Answer]:
    """Each (raw message, sender address) stored in one transaction; the answers in order. A
    message that cannot be stored is answered AE (its savepoint rolled back, the others kept);
    if the commit itself fails every message is answered AE, so each monitor sends again."""
    answers: list[Answer] = []
    try:
        with transaction.atomic():
            for raw, peer in raws:
                answers.append(_receive_one(raw, peer, clinic))
    except DatabaseError as exc:
        log.error("monitor batch of %d not committed: %s", len(raws), type(exc).__name__)
        return [_not_stored(raw, "the clinic's database did not store it; send it again")
                for raw, _ in raws]
    return answers


def receive(raw: str, *, clinic: Clinic, peer: str = "") -> Answer:
    return receive_batch([(raw, peer)], clinic=clinic)[0]


def _not_stored(raw: str, why: str) -> Answer:
    try:
        message = pcd01.parse(raw, timezone.get_current_timezone())
    except pcd01.Unreadable:
        message = None
    return Answer("AE", pcd01.ack(message, "AE", error=why, raw=raw), 0)


def _receive_one(raw: str, peer: str, clinic: Clinic) -> Answer:
    try:
        message = pcd01.parse(raw, clinic.zone)
    except pcd01.Unreadable as exc:
        log.warning("monitor message from %s refused: %s", peer or "?", exc)
        return Answer("AR", pcd01.ack(None, "AR", error=str(exc), raw=raw), 0)
    try:
        with transaction.atomic():
            stored = store(message, raw=raw, peer=peer, clinic=clinic, by=None)
    except IntegrityError:  # the same message at the same moment on another connection
        if not MonitorMessage.objects.filter(clinic=clinic, sender=message.sender,
                                             control_id=message.control_id).exists():
            return Answer("AE", pcd01.ack(message, "AE", error="not stored; send it again"), 0)
        stored = 0
    except DatabaseError as exc:
        log.error("monitor message %s not stored: %s", message.control_id, type(exc).__name__)
        return Answer("AE", pcd01.ack(message, "AE", error="not stored; send it again"), 0)
    return Answer("AA", pcd01.ack(message, "AA"), stored)


@action
def store(message: pcd01.Message, *, raw: str, peer: str, clinic: Clinic, by: User | None) -> int:
    """Keep the message and record its vitals; returns how many readings were stored (0 for a
    resend, which is answered again and stored once). Another message reusing a control id (a
    monitor restarted its counter) is not a resend: it is kept under the id with its hash."""
    same_id = MonitorMessage.objects.filter(clinic=clinic, sender=message.sender,
                                            control_id=message.control_id).first()
    if same_id is not None:
        if same_id.raw == raw:
            return 0
        digest = hashlib.sha256(raw.encode()).hexdigest()[:12]
        message.control_id = f"{message.control_id[:50]}~{digest}"
        if MonitorMessage.objects.filter(clinic=clinic, sender=message.sender,
                                         control_id=message.control_id).exists():
            return 0
    patient, session, reason = match(message, clinic)
    kept = MonitorMessage.objects.create(
        clinic=clinic, sender=message.sender, control_id=message.control_id, peer=peer[:64],
        raw=raw, status=MessageStatus.UNMATCHED if session is None else MessageStatus.STORED,
        reason=reason[:300], patient_ref=message.patient_ref, device_ids=message.device_ids[:20],
        patient=patient, session=session)
    trail.record("create", object_type="monitor_message", object_id=kept.pk,
                 patient_id=getattr(patient, "pk", None), clinic_id=clinic.pk,
                 detail={"status": kept.status, "sender": message.sender[:80]})
    if session is None:
        return 0
    return record(kept, message, session, by=None)


def record(kept: MonitorMessage, message: pcd01.Message, session: Session, *, by: User | None) -> int:
    """The message's vitals as readings of ``session`` (one per observation time); each value
    the record cannot keep is noted on the message with why. Returns the readings stored."""
    groups, not_stored = readings_of(message, fallback=kept.received_at)
    device = message.device or message.sender[:100]
    stored = 0
    for observed_at, values in sorted(groups.items()):
        if observed_at > kept.received_at + CLOCK_AHEAD:  # the monitor's clock runs ahead
            not_stored.append({"why": f"the monitor's time {observed_at:%H:%M:%S} was ahead of the "
                                      "clinic's clock: recorded at the time received"})
            observed_at = kept.received_at
        while values:
            try:
                result = actions.record_vitals(session, observed_at=observed_at, by=by,
                                               values=values, source="device", device=device,
                                               late_reason=LATE)
            except FieldError as exc:
                if exc.field in values:  # implausible: kept on the message, the rest recorded
                    not_stored.append({"field": exc.field, "value": values.pop(exc.field),
                                       "why": exc.message})
                    continue
                not_stored += [{"field": f, "value": v, "why": exc.message} for f, v in values.items()]
                break
            stored += int(result.created)
            break
    status = MessageStatus.STORED if stored or not not_stored else MessageStatus.NOTHING
    MonitorMessage.objects.filter(pk=kept.pk).update(readings=stored, not_stored=not_stored[:100],
                                                     status=status)
    return stored


def readings_of(message: pcd01.Message, *, fallback: datetime) -> tuple[dict, list[dict]]:
    """The message's values by observation time ({time: {field: value}}), and what is not kept:
    an observation marked invalid (OBX-11 X), an unknown code or unit, a second value of the
    same vital at the same time."""
    groups: dict[datetime, dict[str, float]] = {}
    not_stored: list[dict] = []
    for obs in message.observations:
        if not obs.value or devices.is_container(obs.code):
            continue
        if obs.invalid:
            not_stored.append({"code": obs.code, "value": obs.value[:40],
                               "why": "marked invalid by the monitor"})
            continue
        value = devices.reading(obs.code, obs.value, obs.unit)
        if value.problem:
            not_stored.append({"code": obs.code, "value": obs.value[:40], "why": value.problem})
            continue
        assert value.measurement is not None and value.measurement.field is not None
        at = obs.observed_at or fallback
        group = groups.setdefault(at, {})
        if value.measurement.field in group:
            not_stored.append({"code": obs.code, "value": obs.value[:40],
                               "why": f"a second {value.measurement.label.lower()} at the same time"})
            continue
        group[value.measurement.field] = value.value  # type: ignore[assignment]
    return groups, not_stored


def match(message: pcd01.Message, clinic: Clinic) -> tuple[Patient | None, Session | None, str]:
    """The patient and session in progress the message belongs to, or why none: PID-3 as the
    patient's MRN in this clinic, and a registered monitor's room and chair; when both name a
    session and they differ, neither is trusted (the nurse assigns it)."""
    by_mrn = _by_mrn(message, clinic)
    by_chair = _by_chair(message, clinic)
    if by_mrn[1] is not None and by_chair[1] is not None and by_mrn[1] != by_chair[1]:
        return by_mrn[0], None, (f"the MRN names {by_mrn[0].mrn}'s session but the monitor stands at "
                                 "another patient's chair")
    if by_mrn[1] is not None:
        return by_mrn
    if by_chair[1] is not None:
        return by_chair
    if by_mrn[0] is not None:
        return by_mrn
    if by_chair[2]:
        return by_chair
    ref = f"no patient with MRN {message.patient_ref}" if message.patient_ref else "no patient id"
    return None, None, f"{ref}, and the monitor is not registered to a room"


def _by_mrn(message: pcd01.Message, clinic: Clinic) -> tuple[Patient | None, Session | None, str]:
    if not message.patient_ref:
        return None, None, ""
    patient = for_clinic(Patient, clinic.pk).filter(mrn=message.patient_ref).first()
    if patient is None:
        return None, None, ""
    session = (Session.objects.filter(patient=patient, state__in=IN_PROGRESS)
               .order_by("-scheduled_at").first())
    if session is None:
        return patient, None, f"patient {patient.mrn} has no session in progress"
    return patient, session, ""


def _by_chair(message: pcd01.Message, clinic: Clinic) -> tuple[Patient | None, Session | None, str]:
    """The session at the chair of the first registered id (the device's own before the
    sender's): exactly one session in progress there, or why not."""
    known = {d.device_id: d for d in for_clinic(MonitorDevice, clinic.pk).filter(
        device_id__in=message.placing_ids, active=True)}
    device = next((known[i] for i in message.placing_ids if i in known), None)
    if device is None:
        return None, None, ""
    sessions = for_clinic(Session, clinic.pk).filter(state__in=IN_PROGRESS, room=device.room)
    if device.chair:
        sessions = sessions.filter(chair=device.chair)
    found = list(sessions.select_related("patient")[:2])
    place = f"{device.room} {device.chair}".strip()
    if len(found) == 1:
        return found[0].patient, found[0], ""
    if found:
        return None, None, f"more than one session in progress at {place}"
    return None, None, f"no session in progress at {place}"


@action
def assign(kept: MonitorMessage, session: Session, *, by: User) -> int:
    """A nurse assigns an unmatched message to a session in progress: its vitals are recorded
    there, and the message says who assigned it (once)."""
    if kept.status != MessageStatus.UNMATCHED:
        raise FieldError("message", "is not waiting to be assigned")
    if session.state not in IN_PROGRESS:
        raise FieldError("session", "is not in progress: choose a session in a chair now")
    if kept.patient_id is not None and kept.patient_id != session.patient_id:
        raise FieldError("session", "is another patient's: the message names a patient by MRN")
    message = pcd01.parse(kept.raw, kept.clinic.zone)
    if MonitorMessage.objects.filter(pk=kept.pk, status=MessageStatus.UNMATCHED).update(
            status=MessageStatus.ASSIGNED, session=session, patient=session.patient,
            assigned_at=timezone.now(), assigned_by=by) != 1:
        raise FieldError("message", "was assigned by someone else meanwhile")
    trail.record("update", object_type="monitor_message", object_id=kept.pk,
                 patient_id=session.patient_id, detail={"assigned_to_session": session.pk})
    kept.refresh_from_db()
    # the monitor measured them: the readings are not the nurse's; assigned_by says who placed them
    stored = record(kept, message, session, by=None)
    if not stored:
        raise FieldError("session", "took none of the message's readings (see why on the message): "
                                    "nothing was assigned")
    MonitorMessage.objects.filter(pk=kept.pk).update(status=MessageStatus.ASSIGNED)
    return stored
