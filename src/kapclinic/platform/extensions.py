"""Extension points: what each app adds to the shared pages and processes.

A feature app registers its contributions from ``AppConfig.ready()``; the patient registry,
accounts, audit and the web shell read them from here. This module imports no kapclinic
app, so the pages that gather contributions never learn who contributes: adding an app
means adding a folder (and its lines in the permission matrix), not editing central files.

Everything is keyed: registering the same key again replaces the entry, so a ``ready()``
that runs twice (tests, autoreload) leaves one entry, and the order is by ``order`` then key.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

log = logging.getLogger(__name__)

# An ``action`` below is an ``accounts.permissions.Action`` member: the section, item or page
# is offered only to a role that may do it. Typed ``Any`` so this module imports no app.
PermissionAction = Any


@dataclass(frozen=True)
class ChartSection:
    """A part of the patient chart. ``load(patient)`` returns the section's data once per page
    (its template reads it as ``section.data``); ``events(patient, data)`` turns that same
    data into timeline events (objects with ``at``, ``kind``, ``title``, ``detail``, ``by``),
    so the timeline costs no extra queries."""

    key: str
    template: str
    load: Callable[[Any], Any]
    action: PermissionAction
    order: int = 100
    events: Callable[[Any, Any], Iterable[Any]] | None = None
    # which column of the chart: "main" under the summary, or "side" beside it
    column: str = "main"


@dataclass(frozen=True)
class NavItem:
    """A link in the main menu; ``badge(membership)`` returns a count to show beside it
    (0 hides it), evaluated only when the role may follow the link. ``about``: a clinic
    setting's page, listed with these words on the Settings page instead of in the menu."""

    key: str
    label: str
    url_name: str
    action: PermissionAction
    order: int = 100
    badge: Callable[[Any], int] | None = None
    about: str = ""


@dataclass(frozen=True)
class PortalSection:
    """A part of the patient's own portal home; ``load(patient)`` returns its template
    context."""

    key: str
    template: str
    load: Callable[[Any], dict[str, Any]]
    order: int = 100


@dataclass(frozen=True)
class Landing:
    """The page a role starts from: the first landing (by order) whose action the role may
    do is where ``/`` sends it."""

    key: str
    url_name: str
    action: PermissionAction
    order: int = 100
    # only these roles start here (e.g. nurses at the room board); empty: any role allowed
    roles: frozenset[Any] = frozenset()
    # only while this holds for the membership (e.g. a discrepancy awaits the admin); None: always
    wanted: Callable[[Any], bool] | None = None


@dataclass(frozen=True)
class WorkerStep:
    """A part of the worker's pass. A per-clinic step runs as ``run(clinic_id, now)`` once
    for each clinic, a global one as ``run(None, now)``; it returns how many things it did.
    A failure is logged and never stops another clinic or another step."""

    key: str
    label: str
    run: Callable[[int | None, datetime], int]
    per_clinic: bool = True
    order: int = 100


@dataclass(frozen=True)
class DemoRun:
    """What a demo loader gets for one demo clinic, after the registry made its patients:
    ``staff`` maps each role to its demo user, ``targets`` each patient's MRN to the status
    the demo wants it to reach (only the app owning a status may bring a patient there), and
    ``rng`` is the loader's own random stream (seeded by the demo's seed, the clinic and the
    loader), so adding an app leaves every other app's demo data as it was."""

    clinic: Any
    staff: dict[Any, Any]
    targets: dict[str, str]
    rng: random.Random
    now: datetime
    weeks: int


@dataclass(frozen=True)
class DemoLoader:
    """Adds an app's demo data to a demo clinic: ``load(run)`` (see DemoRun)."""

    key: str
    load: Callable[[DemoRun], None]
    order: int = 100


@dataclass(frozen=True)
class ApiRouter:
    """A django-ninja router mounted under ``/api/v1/<prefix>``."""

    key: str
    prefix: str
    router: Any
    order: int = 100


@dataclass(frozen=True)
class PatientHook:
    """Called inside the transaction that changed the patient, so its work commits or rolls
    back with the change. ``condition_changed(patient)`` after a diagnosis is added or marked
    entered in error; ``status_changed(patient, old, new, by)`` after a status move."""

    key: str
    condition_changed: Callable[[Any], None] | None = None
    status_changed: Callable[[Any, str, str, Any], None] | None = None
    order: int = 100


@dataclass(frozen=True)
class DoseClearance:
    """What another app must vouch for before a patient is given a drug by a route:
    ``check(patient, drug, route)`` returns the reasons the dose may not go ahead now, in
    words a clinician acts on (empty: nothing against it). The screening app registers
    eligibility and consent; the dosing session asks every registered check."""

    key: str
    check: Callable[[Any, str, str], list[str]]
    order: int = 100


@dataclass(frozen=True)
class Dose:
    """A dose given in a supervised session, as other apps see it (no model import)."""

    patient_id: int
    session_id: int
    course_id: int | None
    protocol: str        # the protocol's id
    protocol_label: str  # what people read
    drug: str
    route: str
    dose_mg: float
    given_at: datetime   # when the dose started (clinical time)
    # what the controlled-substance ledger draws the dose by (optional: not every recorder
    # knows them): the administration record, who gave it, the product and lot recorded
    administration_id: int | None = None
    given_by_id: int | None = None
    product_ndc: str = ""
    lot: str = ""
    concentration_mg_per_ml: float | None = None


@dataclass(frozen=True)
class DoseHook:
    """``dose_given(patient, dose)`` runs inside the transaction that recorded the dose, so
    what it schedules (the measures anchored to the dose) commits or rolls back with it."""

    key: str
    dose_given: Callable[[Any, Dose], None]
    order: int = 100


@dataclass(frozen=True)
class DoseRecords:
    """Where doses are read from: ``doses(patient_ids)`` returns each patient's doses, oldest
    first, in one or two queries whatever the number of patients (entered in error left out).
    The treatment app registers it; measures reads time since the nearest dose from it."""

    key: str
    doses: Callable[[Iterable[int]], dict[int, list[Dose]]]
    order: int = 100


@dataclass(frozen=True)
class SessionScores:
    """Scores taken in dosing sessions: ``peaks(session_ids)`` returns, per session, each
    instrument's highest total there ({"cadss6": 12.0}); measures registers it."""

    key: str
    peaks: Callable[[Iterable[int]], dict[int, dict[str, float]]]
    order: int = 100


@dataclass(frozen=True)
class FadingRelief:
    """Who a clinic's outcomes list as losing their relief (booster candidates):
    ``patients(clinic_id)`` returns their ids; measures registers it, courses offer a booster."""

    key: str
    patients: Callable[[int], set[int]]
    order: int = 100


@dataclass(frozen=True)
class CareTeamSource:
    """Who is on a patient's care team, one reason at a time: ``patient_ids(user_id,
    clinic_id)`` returns a queryset of the clinic's patients whose care team has the user for
    this reason (the assigned prescriber or therapist; the clinician of one of their
    sessions; an emergency access still running). The scoping layer unions every source as a
    subquery, so a care-team check is one query however many sources there are."""

    key: str
    label: str
    patient_ids: Callable[[int, int], Any]
    order: int = 100


Entry = TypeVar("Entry", ChartSection, NavItem, PortalSection, Landing, WorkerStep,
                DemoLoader, ApiRouter, PatientHook, DoseClearance, DoseHook, DoseRecords,
                SessionScores, FadingRelief, CareTeamSource)


@dataclass
class _Registry:
    entries: dict[type, dict[str, Any]] = field(default_factory=dict)

    def add(self, entry: Any) -> None:
        self.entries.setdefault(type(entry), {})[entry.key] = entry

    def all(self, kind: type[Entry]) -> list[Entry]:
        found = self.entries.get(kind, {}).values()
        return sorted(found, key=lambda entry: (entry.order, entry.key))


_registry = _Registry()


def register(*entries: ChartSection | NavItem | PortalSection | Landing | WorkerStep
             | DemoLoader | ApiRouter | PatientHook | DoseClearance | DoseHook | DoseRecords
             | SessionScores | FadingRelief | CareTeamSource) -> None:
    """Called from an app's ``AppConfig.ready()`` with everything the app contributes."""
    for entry in entries:
        _registry.add(entry)


@contextlib.contextmanager
def registrations_undone(*emptied: type) -> Iterator[None]:
    """For tests: what is registered inside is forgotten afterwards, and the apps' own entries
    are back; the kinds in ``emptied`` (``WorkerStep``) start empty inside."""
    saved = {kind: dict(entries) for kind, entries in _registry.entries.items()}
    for kind in emptied:
        _registry.entries.pop(kind, None)
    try:
        yield
    finally:
        _registry.entries = saved


def care_team_sources() -> list[CareTeamSource]:
    return _registry.all(CareTeamSource)


def chart_sections() -> list[ChartSection]:
    return _registry.all(ChartSection)


def nav_items() -> list[NavItem]:
    return _registry.all(NavItem)


def portal_sections() -> list[PortalSection]:
    return _registry.all(PortalSection)


def landings() -> list[Landing]:
    return _registry.all(Landing)


def worker_steps() -> list[WorkerStep]:
    return _registry.all(WorkerStep)


def demo_loaders() -> list[DemoLoader]:
    return _registry.all(DemoLoader)


def api_routers() -> list[ApiRouter]:
    return _registry.all(ApiRouter)


def patient_hooks() -> list[PatientHook]:
    return _registry.all(PatientHook)


def dose_clearances() -> list[DoseClearance]:
    return _registry.all(DoseClearance)


def dose_blockers(patient: Any, drug: str, route: str) -> list[str]:
    """Every registered app's reasons ``patient`` may not be given ``drug`` by ``route`` now."""
    return [reason for clearance in dose_clearances()
            for reason in clearance.check(patient, drug, route)]


def condition_changed(patient: Any) -> None:
    for hook in patient_hooks():
        if hook.condition_changed is not None:
            hook.condition_changed(patient)


def status_changed(patient: Any, old: str, new: str, by: Any) -> None:
    for hook in patient_hooks():
        if hook.status_changed is not None:
            hook.status_changed(patient, old, new, by)


def dose_given(patient: Any, dose: Dose) -> None:
    for hook in _registry.all(DoseHook):
        hook.dose_given(patient, dose)


def doses_of(patient_ids: Iterable[int]) -> dict[int, list[Dose]]:
    """Every patient's doses, oldest first, from whichever app records them (none: empty)."""
    ids = list(patient_ids)
    found: dict[int, list[Dose]] = {}
    for source in _registry.all(DoseRecords):
        for patient_id, doses in source.doses(ids).items():
            found.setdefault(patient_id, []).extend(doses)
    for doses in found.values():
        doses.sort(key=lambda dose: dose.given_at)
    return found


def session_peaks(session_ids: Iterable[int]) -> dict[int, dict[str, float]]:
    ids = list(session_ids)
    found: dict[int, dict[str, float]] = {}
    for source in _registry.all(SessionScores):
        for session_id, peaks in source.peaks(ids).items():
            found.setdefault(session_id, {}).update(peaks)
    return found


def fading_patients(clinic_id: int) -> set[int]:
    return {patient_id for source in _registry.all(FadingRelief)
            for patient_id in source.patients(clinic_id)}


def demo_stream(seed: int | str, clinic_slug: str, loader_key: str) -> random.Random:
    """The random stream a demo loader gets: one per (seed, clinic, loader)."""
    return random.Random(f"{seed}-{clinic_slug}-{loader_key}")


@dataclass
class WorkerReport:
    done: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"{step}: {count}" for step, count in self.done.items()]
        if self.failed:
            parts.append(f"failed: {', '.join(self.failed)}")
        return "; ".join(parts) or "nothing to do"


def run_worker_steps(clinic_ids: Iterable[int], now: datetime) -> WorkerReport:
    """One pass of every registered step: per-clinic steps for each clinic on its own, then
    global ones. One clinic's bad setting or failing step is logged and the pass goes on,
    so it never stops another clinic's sends or escalations."""
    report = WorkerReport()
    clinics = list(clinic_ids)
    for step in worker_steps():
        report.done.setdefault(step.label, 0)
        for clinic_id in clinics if step.per_clinic else [None]:
            try:
                report.done[step.label] += step.run(clinic_id, now)
            except Exception:  # noqa: BLE001 (logged with its traceback; the next pass retries)
                where = f" for clinic {clinic_id}" if clinic_id is not None else ""
                log.exception("worker: %s failed%s", step.label, where)
                report.failed.append(f"{step.label}{where}")
    return report
