"""A second clinician confirms a dose outside the protocol, authenticating in that moment
(accounts.present: their password, and their authenticator code when they have enrolled one;
wrong ones count with those typed for them as a witness, and a lock-out at login holds here
too). Both the confirmation and a refusal are audited (a refusal as "denied", kept although
the dose is not recorded)."""

from __future__ import annotations

from kapclinic.accounts import present
from kapclinic.accounts.models import User
from kapclinic.accounts.permissions import MATRIX, Action
from kapclinic.accounts.roles import Role
from kapclinic.treatment.errors import ConfirmationRefused

CONFIRMING = present.register(present.Purpose(
    refused=ConfirmationRefused, denied_type="administration", person_key="second_clinician",
    done="dose_confirmed",
    wrong="The second clinician's password or code is not right: nothing was recorded.",
    locked=("Too many wrong passwords or codes for this second clinician: ask another, or try "
            "again in {minutes} minutes. Nothing was recorded.")))


def member_named(session, username: str) -> User | None:
    """The user of the session's clinic whose username is ``username`` (None: nobody there
    is; a user of another clinic is not found, so the form cannot tell who exists elsewhere)."""
    return present.member_named(session.patient.clinic_id, username)


def confirm_second_clinician(session, *, by: User | None, second: User, password: str, code: str,
                             prescriber_needed: bool) -> None:
    """Raise ConfirmationRefused (audited) unless ``second`` is another member of the
    session's clinic whose role may confirm doses, with the right password (and code)."""
    clinic_id = session.patient.clinic_id
    attempt = present.Attempt(CONFIRMING, second, about={"session": session.pk},
                              patient_id=session.patient_id)
    if by is not None and second.pk == by.pk:
        raise attempt.refused("second_clinician", "same person",
                              "The second clinician must be someone other than the one giving "
                              "the dose.")
    role = present.role_in(second, clinic_id)
    if role is None or Role(role) not in MATRIX[Action.DOSE_CONFIRM] or not second.is_active:
        raise attempt.refused("second_clinician", "role may not confirm doses",
                              "The second clinician must be a prescriber or nurse of this clinic.")
    attempt.authenticate(password, code, fields="second_")
    if (prescriber_needed and role != Role.PRESCRIBER and by is not None
            and present.role_in(by, clinic_id) != Role.PRESCRIBER):
        # clinical.md 5 encoding guidance: a dose outside the range needs the prescriber's reason
        raise attempt.refused("second_clinician", "no prescriber",
                              "A dose outside the protocol needs a prescriber: either the one "
                              "giving it or the second clinician.")
    attempt.confirmed(object_type="session", object_id=session.pk, patient_id=session.patient_id)
