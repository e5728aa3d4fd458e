"""The monitor writer's reads of each batch, as fixed SQL statements.

Django compiles an ORM query anew on every call, and a batch of ten messages made a dozen of
them: compiling them cost the listener more than running them (about 6 ms a batch, on top of
each message's own work). Each statement here names its tables and columns from the models
and passes every value as a parameter; what it returns is what the ORM query it replaces
returned. A statement about the clinic's rows scopes them by the column
``accounts.scoping.clinic_column`` names; one keyed by sessions takes the ids of sessions the
batch already read within the clinic."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import NamedTuple

from django.db import connection

from kapclinic.accounts.scoping import clinic_column
from kapclinic.alerts.models import Alert
from kapclinic.audit.models import require_action
from kapclinic.clinical.monitoring import rule_fields
from kapclinic.treatment.models import (
    ALERT_SOURCE,
    READING_RECORD,
    VITAL_FIELDS,
    MonitorDevice,
    MonitorMessage,
    Session,
    TreatmentSettings,
    VitalReading,
)


class OpenAlert(NamedTuple):
    """An open alert a reading raised: the values of that reading (what the alert shows), when
    its rule last fired (that reading, or the latest firing counted on it), and whether a later
    reading measured one of the rule's vitals without firing it (the patient recovered)."""

    alert: int | tuple  # its id; or, for one a batch is about to raise, a key standing for it
    shown: dict[str, float]
    last_fired: datetime
    recovered: bool = False


class Placement(NamedTuple):
    """Where a registered monitor stands."""

    device_id: str
    room: str
    chair: str
    active: bool


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _clinic(model) -> str:
    return connection.ops.quote_name(clinic_column(model))


def _indexed_by(index: str) -> str:
    """SQLite: the index the statement must use (an error if it cannot, never a slow walk).
    Without statistics SQLite's planner takes the index with more equalities, whatever the
    rows behind them; PostgreSQL's planner weighs them by its statistics."""
    return f"INDEXED BY {connection.ops.quote_name(index)} " if connection.vendor == "sqlite" else ""


def _in(values: Collection) -> str:
    return ", ".join(["%s"] * len(values))


def _rows(sql: str, params: Iterable) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def settings_version(clinic_id: int) -> int | None:
    """The version of the clinic's session settings (None: never saved, the defaults)."""
    t = TreatmentSettings
    found = _rows(f"SELECT {_column(t, 'version')} FROM {_table(t)} "  # noqa: S608 (names from the model)
                  f"WHERE {_clinic(t)} = %s ORDER BY {_column(t, 'id')} LIMIT 1", [clinic_id])
    return found[0][0] if found else None


def stored_messages(clinic_id: int, senders: Collection[str],
                    control_ids: Collection[str]) -> dict[tuple[str, str], str]:
    """(sender, control id) -> raw text of the clinic's messages stored under those."""
    if not senders or not control_ids:
        return {}
    m = MonitorMessage
    rows = _rows(f"SELECT {_column(m, 'sender')}, {_column(m, 'control_id')}, {_column(m, 'raw')} "  # noqa: S608
                 f"FROM {_table(m)} WHERE {_clinic(m)} = %s AND {_column(m, 'sender')} "
                 f"IN ({_in(senders)}) AND {_column(m, 'control_id')} IN ({_in(control_ids)})",
                 [clinic_id, *senders, *control_ids])
    return {(sender, control_id): raw for sender, control_id, raw in rows}


def placements(clinic_id: int, device_ids: Collection[str], *, active_only: bool) -> dict[str, Placement]:
    """The clinic's registered monitors with these ids (the active ones only, if asked)."""
    if not device_ids:
        return {}
    d = MonitorDevice
    active = f" AND {_column(d, 'active')} = %s" if active_only else ""
    rows = _rows(f"SELECT {_column(d, 'device_id')}, {_column(d, 'room')}, {_column(d, 'chair')}, "  # noqa: S608
                 f"{_column(d, 'active')} FROM {_table(d)} WHERE {_clinic(d)} = %s "
                 f"AND {_column(d, 'device_id')} IN ({_in(device_ids)}){active}",
                 [clinic_id, *device_ids, *([True] if active_only else [])])
    return {row[0]: Placement(row[0], row[1], row[2], bool(row[3])) for row in rows}


def session_versions(session_ids: Collection[int]) -> dict[int, int]:
    if not session_ids:
        return {}
    s = Session
    return dict(_rows(f"SELECT {_column(s, 'id')}, {_column(s, 'version')} FROM {_table(s)} "  # noqa: S608
                      f"WHERE {_column(s, 'id')} IN ({_in(session_ids)})", session_ids))


def fingerprints(session_ids: Collection[int], times: Collection[datetime]) -> set[tuple[int, str]]:
    """(session, fingerprint) of the readings of these sessions observed at these times."""
    if not session_ids or not times:
        return set()
    v = VitalReading
    at = [connection.ops.adapt_datetimefield_value(moment) for moment in times]
    return set(_rows(f"SELECT {_column(v, 'session')}, {_column(v, 'fingerprint')} "  # noqa: S608
                     f"FROM {_table(v)} WHERE {_column(v, 'session')} IN ({_in(session_ids)}) "
                     f"AND {_column(v, 'observed_at')} IN ({_in(at)})", [*session_ids, *at]))


def open_alerts(clinic_id: int, patients: dict[int, int]) -> dict[tuple[int, str], OpenAlert]:
    """(session, rule) -> the newest open alert (not acknowledged, not in error) a reading of
    that session raised under that rule, that reading not marked in error. ``patients``: each
    session's patient (session id -> patient id)."""
    if not patients:
        return {}
    session_ids, patient_ids = list(patients), sorted(set(patients.values()))
    a, v = Alert, VitalReading
    values = ", ".join(f"r.{_column(v, name)}" for name in VITAL_FIELDS)
    # only the newest of each (session, rule) leaves the database: a session whose alerts are left
    # open (a long one, a monitor every few seconds) holds dozens, and reading them all into
    # Python for every batch slowed the listener as the sessions went on. They are found by
    # patient, on the index of open alerts by patient: by clinic, every batch walked all of the
    # clinic's open alerts (past sessions' left open too), and slowed as they grew
    rows = _rows(f"SELECT r.{_column(v, 'session')}, a.{_column(a, 'kind')}, a.{_column(a, 'id')}, "  # noqa: S608
                 f"r.{_column(v, 'observed_at')}, a.{_column(a, 'repeated_at')}, "
                 f"{values} FROM {_table(a)} a JOIN {_table(v)} r "
                 f"ON r.{_column(v, 'id')} = a.{_column(a, 'record_id')} "
                 f"WHERE a.{_column(a, 'id')} IN (SELECT MAX(a.{_column(a, 'id')}) FROM {_table(a)} a "
                 f"{_indexed_by('alert_patient_open_idx')}"
                 f"JOIN {_table(v)} r ON r.{_column(v, 'id')} = a.{_column(a, 'record_id')} "
                 f"WHERE a.{_column(a, 'patient')} IN ({_in(patient_ids)}) AND a.{_clinic(a)} = %s "
                 f"AND a.{_column(a, 'acknowledged_at')} IS NULL "
                 f"AND a.{_column(a, 'entered_in_error_at')} IS NULL AND a.{_column(a, 'source')} = %s "
                 f"AND a.{_column(a, 'record_type')} = %s AND r.{_column(v, 'entered_in_error_at')} IS NULL "
                 f"AND r.{_column(v, 'session')} IN ({_in(session_ids)}) "
                 f"GROUP BY r.{_column(v, 'session')}, a.{_column(a, 'kind')})",
                 [*patient_ids, clinic_id, ALERT_SOURCE, READING_RECORD, *session_ids])
    found = {}
    for session_id, kind, alert_id, observed_at, repeated_at, *vitals in rows:  # one per (session, rule)
        shown = zip(VITAL_FIELDS, vitals, strict=True)
        fired = max(_aware(observed_at), _aware(repeated_at or observed_at))
        found[(session_id, kind)] = OpenAlert(alert_id, {n: float(v) for n, v in shown if v is not None},
                                              fired)
    return _with_recovery(found)


def _with_recovery(found: dict[tuple[int, str], OpenAlert]) -> dict[tuple[int, str], OpenAlert]:
    """Each open alert told whether a reading of its session after the rule last fired measured
    one of the rule's vitals (so did not fire it: that reading would have been counted): one
    statement, an EXISTS for each alert on the session's (session, time) index."""
    if not found:
        return found
    v = VitalReading
    asked = [(key, alert) for key, alert in found.items() if rule_fields(key[1])]
    if not asked:
        return found
    checks, params = [], []
    for (session_id, kind), alert in asked:
        measured = " OR ".join(f"r.{_column(v, name)} IS NOT NULL" for name in sorted(rule_fields(kind)))
        checks.append(f"EXISTS (SELECT 1 FROM {_table(v)} r WHERE r.{_column(v, 'session')} = %s "  # noqa: S608
                      f"AND r.{_column(v, 'observed_at')} > %s AND r.{_column(v, 'entered_in_error_at')} "
                      f"IS NULL AND ({measured}))")
        params += [session_id, connection.ops.adapt_datetimefield_value(alert.last_fired)]
    answers = _rows(f"SELECT {', '.join(checks)}", params)[0]
    return found | {key: alert._replace(recovered=bool(answer))
                    for (key, alert), answer in zip(asked, answers, strict=True)}


def _aware(moment: datetime) -> datetime:
    """A time as the database returned it (SQLite: naive, in UTC), with its zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Count(NamedTuple):
    """Firings to count on an open alert: how many, the latest's time and its words."""

    alert_id: int
    times: int
    at: datetime
    findings: str


def count_again(counts: Collection[Count]) -> set[int]:
    """Count more firings on alerts still open, each alert's latest time and words kept only
    when later than those it holds; one statement for the batch. Returns the alerts counted
    on (one no longer open is left as it was)."""
    if not counts:
        return set()
    a = Alert
    require_action(a)  # a health record's write, as the ORM's guarded update would check
    pk, at, label = _column(a, "id"), _column(a, "repeated_at"), _column(a, "repeated_label")
    repeats, params, latest_label, latest_at = [], [], [], []
    label_params, at_params = [], []
    for count in counts:
        when = connection.ops.adapt_datetimefield_value(count.at)
        repeats.append("WHEN %s THEN %s")
        params += [count.alert_id, count.times]
        later = f"{pk} = %s AND ({at} IS NULL OR {at} < %s)"
        latest_label.append(f"WHEN {later} THEN %s")
        label_params += [count.alert_id, when, count.findings]
        latest_at.append(f"WHEN {later} THEN %s")
        at_params += [count.alert_id, when, when]
    ids = [count.alert_id for count in counts]
    rows = _rows(f"UPDATE {_table(a)} SET {_column(a, 'repeats')} = {_column(a, 'repeats')} + "  # noqa: S608
                 f"CASE {pk} {' '.join(repeats)} ELSE 0 END, "
                 f"{label} = CASE {' '.join(latest_label)} ELSE {label} END, "
                 f"{at} = CASE {' '.join(latest_at)} ELSE {at} END "
                 f"WHERE {pk} IN ({_in(ids)}) AND {_column(a, 'acknowledged_at')} IS NULL "
                 f"AND {_column(a, 'entered_in_error_at')} IS NULL RETURNING {pk}",
                 [*params, *label_params, *at_params, *ids])
    return {row[0] for row in rows}
