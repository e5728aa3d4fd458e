"""The clinic admin's user management: add staff, change a role, end or restore access, and
issue a set-password link. Every change is audited; nothing is deleted."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from kapclinic.accounts.models import Clinic, Membership, User
from kapclinic.accounts.roles import Role
from kapclinic.audit import trail


class StaffError(ValueError):
    """A change that would lock the clinic out or touch the admin's own access."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Added:
    membership: Membership
    new_user: bool


def password_link(user: User, base_url: str) -> str:
    """A single-use link to set a password (Django's reset token: it stops working once the
    password changes, and after PASSWORD_RESET_TIMEOUT)."""
    path = reverse("set-password", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                                           "token": default_token_generator.make_token(user)})
    return base_url.rstrip("/") + path


def add_staff(*, clinic: Clinic, username: str, first_name: str, last_name: str, email: str,
              role: str, by: User) -> Added:
    """A new user (no password until they set one through the link), or an existing user of
    another clinic given a role here, or a former member given access again."""
    if role == Role.PATIENT:
        raise StaffError("role", "Patients get their portal login from their chart, not here.")
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        new_user = user is None
        if user is None:
            user = User(username=username, first_name=first_name, last_name=last_name, email=email)
            user.set_unusable_password()
            user.save()
        membership = Membership.all_objects.filter(user=user, clinic=clinic).first()
        if membership is not None and membership.ended_at is None:
            raise StaffError("username", f"{username} already works in {clinic.name} "
                                         f"({membership.get_role_display()}).")
        if membership is None:
            membership = Membership.objects.create(user=user, clinic=clinic, role=role)
        else:
            Membership.all_objects.filter(pk=membership.pk).update(role=role, ended_at=None)
            membership.refresh_from_db()
        trail.record("create", object_type="membership", object_id=membership.pk,
                     clinic_id=clinic.pk, detail={"user": user.pk, "role": role,
                                                  "new_user": new_user})
    return Added(membership, new_user)


def _admins_left(clinic: Clinic, without: Membership) -> int:
    return (Membership.objects.filter(clinic=clinic, role=Role.ADMIN)
            .exclude(pk=without.pk).count())


def change_role(*, membership: Membership, role: str, by: User) -> None:
    if membership.user_id == by.pk:
        raise StaffError("role", "You cannot change your own role: ask another admin.")
    if role == Role.PATIENT:
        raise StaffError("role", "Patients get their portal login from their chart, not here.")
    if membership.role == Role.ADMIN and role != Role.ADMIN and not _admins_left(
            membership.clinic, membership):
        raise StaffError("role", "This is the clinic's only admin: make someone else admin first.")
    with transaction.atomic():
        Membership.objects.filter(pk=membership.pk).update(role=role)
        trail.record("update", object_type="membership", object_id=membership.pk,
                     clinic_id=membership.clinic_id,
                     detail={"role": [membership.role, role]})


def end_access(*, membership: Membership, by: User) -> None:
    """The user can no longer work in this clinic (other clinics are not touched)."""
    if membership.user_id == by.pk:
        raise StaffError("access", "You cannot end your own access: ask another admin.")
    if membership.role == Role.ADMIN and not _admins_left(membership.clinic, membership):
        raise StaffError("access", "This is the clinic's only admin: make someone else admin "
                                   "first.")
    with transaction.atomic():
        Membership.objects.filter(pk=membership.pk).update(ended_at=timezone.now())
        trail.record("update", object_type="membership", object_id=membership.pk,
                     clinic_id=membership.clinic_id, detail={"access": "ended"})


def restore_access(*, membership: Membership, by: User) -> None:
    with transaction.atomic():
        Membership.all_objects.filter(pk=membership.pk).update(ended_at=None)
        trail.record("update", object_type="membership", object_id=membership.pk,
                     clinic_id=membership.clinic_id, detail={"access": "restored"})
