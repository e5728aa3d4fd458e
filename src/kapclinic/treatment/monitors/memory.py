"""What a listener's writer remembers from one batch to the next: for each MRN its monitors
send, the patient and their session in progress, and each session's state as last weighed
(vitals.SessionVitals: phase, steps, baseline, last reading, dose start). Reading these again
for every batch was most of a batch's reads.

What it remembers holds while the patient's last audit entry of a change is the one it knew:
every change to a patient's record, sessions, readings and doses is audited with the patient
(pages read, listed or refused change nothing and are not counted: the room board's polling
would otherwise undo the memory every few seconds), so one query for a batch's patients says
whose memory still holds. The entry is read with the patient (one statement), before anything
else of theirs, so a change made while a batch reads is never taken as known. The clinic's
session settings are checked by their version. From that check in the writer's turn to its
commit a batch holds the trail's lock, so nobody else writes an entry meanwhile: the patients'
last entries are then the ones checked or the batch's own, and the memory moves on to them on
commit. A batch works on copies, so one that fails leaves the memory as it was."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from kapclinic.patients.models import Patient
from kapclinic.treatment import vitals
from kapclinic.treatment.models import Session
from kapclinic.treatment.monitors import queries
from kapclinic.treatment.vitals import SessionVitals

MAX_REMEMBERED = 5_000  # patients or sessions; beyond, it starts again (monitors send for dozens)


@dataclasses.dataclass
class Memory:
    patients: dict[str, tuple[Patient, Session | None, int]] = dataclasses.field(default_factory=dict)
    sessions: dict[int, tuple[SessionVitals, int]] = dataclasses.field(default_factory=dict)
    settings: int | None = None

    def check_settings(self, clinic_id: int) -> None:
        """Forget everything when the clinic's session settings changed (the rules weighed)."""
        version = queries.settings_version(clinic_id)
        if version != self.settings:
            self.forget_all()
            self.settings = version

    def forget_all(self) -> None:
        self.patients.clear()
        self.sessions.clear()

    def patient(self, mrn: str) -> tuple[Patient, Session | None, int] | None:
        """The patient with this MRN as remembered (to be checked against their last entry)."""
        return self.patients.get(mrn)

    def forget(self, mrns: Iterable[str]) -> None:
        for mrn in mrns:
            self.patients.pop(mrn, None)

    def vitals(self, session_id: int, seen: dict[int, int]) -> SessionVitals | None:
        """A copy of the session's state as remembered, if its patient's last audit entry is
        still the one it was remembered with; the copy moves on, the memory not until commit."""
        found = self.sessions.get(session_id)
        if found is None:
            return None
        ctx, last = found
        if seen.get(ctx.session.patient_id) != last:
            del self.sessions[session_id]
            return None
        return dataclasses.replace(ctx, added_pre_dose=list(ctx.added_pre_dose))

    def remember(self, *, patients: dict[str, Patient], in_progress: dict[int, Session],
                 sessions: Iterable[SessionVitals], last: dict[int, int]) -> None:
        """After a commit: the batch's patients and sessions, with each patient's last audit
        entry as the batch committed (read holding the trail's lock, its own entries included)."""
        if len(self.patients) + len(patients) > MAX_REMEMBERED or \
                len(self.sessions) > MAX_REMEMBERED:
            self.forget_all()
        for mrn, patient in patients.items():
            if patient.pk in last:
                self.patients[mrn] = (patient, in_progress.get(patient.pk), last[patient.pk])
        for ctx in sessions:
            if ctx.session.patient_id in last:
                _fold_baseline(ctx)
                self.sessions[ctx.session.pk] = (ctx, last[ctx.session.patient_id])


def _fold_baseline(ctx: SessionVitals) -> None:
    """The pre-dose readings added since the session was loaded, folded into its baseline (the
    baseline at the latest of their times, as vitals weighs it), so what is remembered stays one
    row."""
    if ctx.added_pre_dose:
        latest = max(row.observed_at for row in ctx.added_pre_dose)
        ctx.baseline, ctx.added_pre_dose = vitals.baseline_for(ctx, latest), []
