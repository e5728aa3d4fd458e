"""The witness of a wastage or a destruction authenticates in that moment, as the second
clinician of a dose does (accounts.present: their password, and their authenticator code when
they have enrolled one; wrong ones count with those typed for them as a second clinician, and
a lock-out at login holds here too). Both the witnessing and a refusal are audited (a refusal
as "denied", kept although the wastage is not recorded)."""

from __future__ import annotations

from kapclinic.accounts import present
from kapclinic.accounts.models import User
from kapclinic.accounts.permissions import MATRIX, Action
from kapclinic.accounts.roles import Role
from kapclinic.inventory.errors import WitnessRefused

WITNESSING = present.register(present.Purpose(
    refused=WitnessRefused, denied_type="ledger_line", person_key="witness", done="witnessed",
    wrong="The witness's password or code is not right: nothing was recorded.",
    locked=("Too many wrong passwords or codes for this witness: ask another, or try again in "
            "{minutes} minutes. Nothing was recorded.")))

member_named = present.member_named


def confirm_witness(lot, *, by: User | None, witness: User | None, password: str,
                    code: str, field: str = "witness", may: Action = Action.STOCK_WASTE,
                    roles_said: str = "a prescriber or nurse") -> None:
    """Raise WitnessRefused (audited) unless ``witness`` is another member of the lot's
    clinic whose role may ``may`` (waste stock, by default), with the right password (and
    code). ``field`` names the form's witness field (a destruction has two)."""
    if witness is None:
        raise WitnessRefused(field, "Give the username of the person who saw it: the clinic "
                                    "requires a witness.")
    attempt = present.Attempt(WITNESSING, witness, about={"lot": lot.pk})
    if by is not None and witness.pk == by.pk:
        raise attempt.refused(field, "same person",
                              "The witness must be someone other than the one recording it.")
    role = present.role_in(witness, lot.clinic_id)
    if role is None or Role(role) not in MATRIX[may] or not witness.is_active:
        raise attempt.refused(field, "role may not witness",
                              f"The witness must be {roles_said} of this clinic.")
    attempt.authenticate(password, code, fields=f"{field}_")
    attempt.confirmed(object_type="lot", object_id=lot.pk)
