"""The clinic admin's user management: add staff, change a role, end or restore access, and
issue a set-password link. Every change is audited; nothing is deleted."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from kapclinic.accounts.models import Clinic, Invitation, InvitationState, Membership, User
from kapclinic.accounts.roles import Role
from kapclinic.accounts.scoping import for_clinic
from kapclinic.audit import trail
from kapclinic.audit.actions import action

NOT_STAFF = "A patient's portal login belongs to their record, not to the staff list."


class StaffError(ValueError):
    """A change that would lock the clinic out or touch the admin's own access."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Added:
    """A new account given a role here (``membership``), or an existing one invited."""

    membership: Membership | None
    new_user: bool
    invitation: Invitation | None = None


class MembershipBoundTokens(PasswordResetTokenGenerator):
    """Django's reset token (void once the password or last login changes, or after
    PASSWORD_RESET_TIMEOUT), also void once the user's memberships change: a link issued
    while someone worked in one clinic stops working if another clinic adds them. The
    user's security stamp (read from the database, it only increases) keeps a link dead once
    a change of access cancelled it, even when the access is later put back as it was."""

    key_salt = "kapclinic.accounts.staff.MembershipBoundTokens"

    def _make_hash_value(self, user, timestamp):
        memberships = sorted(Membership.all_objects.filter(user=user).values_list(
            "clinic_id", "role", "ended_at"), key=str)
        stamp = User.objects.filter(pk=user.pk).values_list("security_stamp", flat=True).first()
        return f"{super()._make_hash_value(user, timestamp)}{memberships}|{stamp}"


password_tokens = MembershipBoundTokens()


def only_here(user: User, clinic: Clinic) -> bool:
    """Whether every membership the user ever had (ended ones, portal logins) is in
    ``clinic``: only then is their password or authenticator this clinic's admin's to reset,
    because it opens nothing else. An invitation is not a membership until the person accepts
    it, so another clinic's unanswered (or declined) invitation changes nothing here."""
    if user.is_superuser or user.is_staff:
        return False
    return not Membership.all_objects.filter(user=user).exclude(clinic=clinic).exists()


def link_days() -> int:
    """How many days a set-password link works (PASSWORD_RESET_TIMEOUT), as pages and
    emails state it."""
    return settings.PASSWORD_RESET_TIMEOUT // 86400


def password_link(user: User, base_url: str) -> str:
    """A single-use link to set a password."""
    path = reverse("set-password", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                                           "token": password_tokens.make_token(user)})
    return base_url.rstrip("/") + path


def _memberships_here(user: User, clinic_id: int):
    """The user's memberships of the clinic, an ended one included (at most one)."""
    return for_clinic(Membership.all_objects.filter(user=user), clinic_id)


def _refuse_unless_only_here(membership: Membership, what: str) -> None:
    if not only_here(membership.user, membership.clinic):
        trail.record("denied", object_type="user", object_id=membership.user_id,
                     clinic_id=membership.clinic_id, detail={what: "refused"})
        raise StaffError("access", f"{membership.user.display_name} also works (or worked) in "
                                   "another clinic: whoever runs the server does this for them "
                                   f"(kapclinic password-link / kapclinic mfa reset "
                                   f"{membership.user.username}).")


@action
def issue_password_link(*, membership: Membership, base_url: str, by: User) -> str:
    """A set-password link for a current member who never worked elsewhere (audited)."""
    if membership.ended_at is not None:
        raise StaffError("access", "Their access has ended: restore it first.")
    _refuse_unless_only_here(membership, "password_link")
    trail.record("update", object_type="user", object_id=membership.user_id,
                 clinic_id=membership.clinic_id, detail={"password_link": "issued"})
    return password_link(membership.user, base_url)


@action
def operator_password_link(*, user: User, base_url: str, by: User | None = None) -> str:
    """Whoever runs the server gives a person a set-password link (``kapclinic password-link``):
    the way for someone who works in several clinics, whom no one clinic's admin may reset.
    Audited in each clinic the person belongs to."""
    clinics = list(Membership.all_objects.filter(user=user).values_list("clinic_id", flat=True))
    for clinic_id in clinics or [None]:
        trail.record("update", object_type="user", object_id=user.pk, clinic_id=clinic_id,
                     detail={"password_link": "issued by the server's operator"})
    return password_link(user, base_url)


@action
def reset_authenticator(*, membership: Membership, by: User) -> bool:
    """Remove a lost authenticator of a current member who never worked elsewhere."""
    from kapclinic.accounts import mfa

    if membership.ended_at is not None:
        raise StaffError("access", "Their access has ended: restore it first.")
    _refuse_unless_only_here(membership, "mfa_reset")
    return mfa.reset(membership.user, by=by)


# ---- what a person does for themselves -----------------------------------------------------

@action
def change_own_password(*, user: User, password: str, by: User) -> None:
    """``user`` changes their own password (the page checked their old one and Django's
    validators); links issued before stop working (the password is part of their token)."""
    if by is None or by.pk != user.pk:
        raise StaffError("password", "Only the person themselves changes their password here.")
    user.set_password(password)
    user.save()
    trail.record("update", object_type="user", object_id=user.pk,
                 detail={"password": "changed by the user"})


@action
def set_password_through_link(*, user: User, password: str, by: User | None) -> None:
    """The holder of a valid set-password link (checked by the page) sets ``user``'s
    password; ``by`` is whoever is logged in while doing so, if anyone."""
    user.set_password(password)
    user.save()
    trail.record("update", object_type="user", object_id=user.pk,
                 detail={"password": "set through a link"})


def reset_accounts(email: str) -> list[tuple[User, Membership]]:
    """Accounts with this address that may still log in somewhere, each with its first
    current membership (where the request is audited)."""
    found = []
    for user in User.objects.filter(email__iexact=email, is_active=True):
        membership = (Membership.objects.select_related("clinic").filter(user=user)
                      .order_by("pk").first())
        if membership is not None:
            found.append((user, membership))
    return found


@action
def request_password_reset(*, email: str, base_url: str,
                           send: Callable[[User, int, str], object], by: User | None) -> int:
    """A set-password link for each account with ``email`` that may still log in, audited in
    its clinic and handed to ``send(user, clinic_id, link)``, which queues the email in this
    same transaction (the outbox sits above accounts). How many links were made."""
    accounts = reset_accounts(email)
    for user, membership in accounts:
        link = password_link(user, base_url)
        trail.record("update", object_type="user", object_id=user.pk,
                     clinic_id=membership.clinic_id,
                     detail={"password_link": "requested by email"})
        send(user, membership.clinic_id, link)
    return len(accounts)


NO_MATCH = ("No account we can add here has that username and email address. Check both with "
            "the person, or untick 'existing account' to create a new one for them.")


USERNAME_RULE = ("2-120 lowercase letters a-z, digits 0-9, dots, hyphens or underscores (no "
                 "spaces, capitals or accented letters)")
NEW_USERNAME = re.compile(r"[a-z0-9._-]{2,120}")


def normalise_username(name: str) -> str:
    """What a new username is saved as (NFKC, then lowercase: 'Ｅve' and 'Eve' are 'eve'), or
    StaffError when that is not plain lowercase ASCII (a Cyrillic 'е' stays refused)."""
    name = unicodedata.normalize("NFKC", name).strip().lower()
    if not NEW_USERNAME.fullmatch(name):
        raise StaffError("username", f"Use {USERNAME_RULE}.")
    return name


def username_key(username: str) -> str:
    return unicodedata.normalize("NFKC", username).casefold()


def username_like(username: str) -> User | None:
    """An account whose username is ``username`` or reads the same once NFKC and case are
    set aside (accounts made before new names were plain lowercase): the exact one first."""
    exact = User.objects.filter(username=username).first()
    if exact is not None:
        return exact
    key = username_key(username)
    for pk, other in User.objects.values_list("pk", "username").iterator():
        if username_key(other) == key:
            return User.objects.get(pk=pk)
    return None


def taken_message(username: str) -> str:
    """One answer for every reason a new username cannot be had."""
    return (f"{username} is taken, or too like a username that is: choose another (for "
            "example add a digit or their initial).")


def clinic_username(clinic: Clinic, name: str) -> str:
    """A new account's username: the clinic's name space, then what the admin typed
    (``cedar.rhea``). Clinic slugs hold no dot, so two clinics' names never meet: what a new
    username answers can only be about this clinic's own accounts, never another clinic's."""
    return f"{clinic.slug}.{name}"


def is_patient_anywhere(user: User) -> bool:
    """A portal login in any clinic (current or ended): it is never made staff, here or
    elsewhere, so one login never opens both a patient's record and the staff pages."""
    return Membership.all_objects.filter(user=user, role=Role.PATIENT).exists()


def _addable_existing(username: str, email: str) -> User | None:
    """The existing account an admin may add, or None, with one answer for every reason
    (no such username, another email, a patient's login, a server administrator)."""
    user = User.objects.filter(username=username).first()
    if user is None or not email or user.email.lower() != email.lower():
        return None
    if user.is_superuser or user.is_staff or not user.is_active or is_patient_anywhere(user):
        return None
    return user


@action
def add_staff(*, clinic: Clinic, username: str, first_name: str, last_name: str, email: str,
              role: str, by: User, existing: bool = False) -> Added:
    """A new user (no password until they set one through the link; their username is
    ``clinic_username``), or, with ``existing``, an invitation to someone's existing account
    (its username and email) that grants nothing until they accept it (``answer_invitation``).

    The answers do not tell whether a username exists elsewhere: a new account lives in this
    clinic's name space, and an existing one is found only with its email, with one refusal
    for every reason it cannot be added (a patient's login anywhere is never staff)."""
    if role == Role.PATIENT:
        raise StaffError("role", NOT_STAFF)
    if existing:
        return Added(None, False, invite(clinic=clinic, username=username, email=email,
                                         role=role, by=by))
    username = clinic_username(clinic, normalise_username(username))
    Clinic.objects.select_for_update(no_key=True).filter(pk=clinic.pk).exists()  # rows may name it meanwhile
    user = username_like(username)
    new_user = user is None
    if user is None:
        user = User(username=username, first_name=first_name, last_name=last_name,
                    email=email)
        user.set_unusable_password()
        user.save()
    elif (user.username != username or is_patient_anywhere(user) or user.is_superuser
          or user.is_staff
          or not _memberships_here(user, clinic.pk).exists()):
        # only this clinic's own former member is added again by their exact name
        raise StaffError("username", taken_message(username))
    membership = _memberships_here(user, clinic.pk).first()
    if membership is not None and membership.ended_at is None:
        raise StaffError("username", f"{user.username} already works in {clinic.name} "
                                     f"({membership.get_role_display()}).")
    if membership is None:
        membership = Membership.objects.create(user=user, clinic=clinic, role=role)
    else:
        Membership.all_objects.filter(pk=membership.pk).update(role=role, ended_at=None)
        membership.refresh_from_db()
    user.bump_security_stamp()
    trail.record("create", object_type="membership", object_id=membership.pk,
                 clinic_id=clinic.pk, detail={"user": user.pk, "role": role,
                                              "new_user": new_user})
    return Added(membership, new_user)


@action
def invite(*, clinic: Clinic, username: str, email: str, role: str, by: User) -> Invitation:
    """Invite an existing account (found by its username and email) to work here as ``role``.
    Nothing is granted, shown or blocked until the person accepts (audited here)."""
    if role == Role.PATIENT:
        raise StaffError("role", NOT_STAFF)
    if _addable_existing(username, email) is None:
        trail.record("denied", object_type="membership", clinic_id=clinic.pk,
                     detail={"add_existing": "no addable account matched"})
        raise StaffError("username", NO_MATCH)
    Clinic.objects.select_for_update(no_key=True).filter(pk=clinic.pk).exists()  # rows may name it meanwhile
    user = _addable_existing(username, email)
    if user is None:  # changed a moment ago
        raise StaffError("username", NO_MATCH)
    if for_clinic(Membership.objects.filter(user=user), clinic.pk).exists():
        raise StaffError("username", f"{user.username} already works in {clinic.name}.")
    if for_clinic(Invitation.objects.filter(user=user, state=InvitationState.PENDING),
                  clinic.pk).exists():
        raise StaffError("username", f"{user.username} is already invited to "
                                     f"{clinic.name} and has not answered yet.")
    invitation = Invitation.objects.create(user=user, clinic=clinic, role=role, invited_by=by)
    trail.record("create", object_type="invitation", object_id=invitation.pk,
                 clinic_id=clinic.pk, detail={"user": user.pk, "role": role})
    return invitation


def pending_invitations(user: User):
    return (Invitation.objects.select_related("clinic")
            .filter(user=user, state=InvitationState.PENDING).order_by("created_at", "pk"))


@action
def answer_invitation(*, invitation: Invitation, accept: bool, by: User) -> Membership | None:
    """The invited person (only they) accepts or declines, once (compare-and-swap); accepted,
    they work in the clinic in the offered role (a former membership there is restored).
    Audited in the inviting clinic. None when it was declined or already answered."""
    if invitation.user_id != by.pk:
        raise StaffError("invitation", "This invitation is not yours to answer.")
    state = InvitationState.ACCEPTED if accept else InvitationState.DECLINED
    done = Invitation.objects.filter(pk=invitation.pk, state=InvitationState.PENDING).update(
        state=state, answered_at=timezone.now())
    if not done:
        return None
    membership = None
    if accept:
        membership = _memberships_here(by, invitation.clinic_id).first()
        if membership is None:
            membership = Membership.objects.create(user_id=by.pk,
                                                   clinic_id=invitation.clinic_id,
                                                   role=invitation.role)
        else:
            Membership.all_objects.filter(pk=membership.pk).update(role=invitation.role,
                                                                   ended_at=None)
            membership.refresh_from_db()
        by.bump_security_stamp()
    trail.record("update", object_type="invitation", object_id=invitation.pk,
                 clinic_id=invitation.clinic_id,
                 detail={"answer": state.value, "role": invitation.role,
                         "membership": membership.pk if membership else None})
    return membership


def _lock_clinic(membership: Membership) -> Membership:
    """Inside a transaction: lock the clinic row (so two admins cannot remove each other at
    once) and read the membership again as it is now."""
    Clinic.objects.select_for_update().filter(pk=membership.clinic_id).exists()
    return Membership.all_objects.select_related("clinic").get(pk=membership.pk)


def _keeps_an_admin(membership: Membership) -> bool:
    return membership.role != Role.ADMIN or for_clinic(
        Membership.objects.filter(role=Role.ADMIN), membership.clinic_id).exclude(
        pk=membership.pk).exists()


@action
def change_role(*, membership: Membership, role: str, by: User) -> None:
    if membership.user_id == by.pk:
        raise StaffError("role", "You cannot change your own role: ask another admin.")
    if role == Role.PATIENT:
        raise StaffError("role", NOT_STAFF)
    current = _lock_clinic(membership)
    if current.ended_at is not None:
        raise StaffError("role", "Their access has ended: restore it first.")
    if role != Role.ADMIN and not _keeps_an_admin(current):
        raise StaffError("role", "This is the clinic's only admin: make someone else admin "
                                 "first.")
    if current.role == role:
        return
    Membership.objects.filter(pk=current.pk).update(role=role)
    current.user.bump_security_stamp()
    trail.record("update", object_type="membership", object_id=current.pk,
                 clinic_id=current.clinic_id, detail={"role": [current.role, role]})


@action
def end_access(*, membership: Membership, by: User) -> None:
    """The user can no longer work in this clinic (other clinics are not touched)."""
    if membership.user_id == by.pk:
        raise StaffError("access", "You cannot end your own access: ask another admin.")
    current = _lock_clinic(membership)
    if current.ended_at is not None:
        return
    if not _keeps_an_admin(current):
        raise StaffError("access", "This is the clinic's only admin: make someone else "
                                   "admin first.")
    Membership.objects.filter(pk=current.pk).update(ended_at=timezone.now())
    current.user.bump_security_stamp()
    trail.record("update", object_type="membership", object_id=current.pk,
                 clinic_id=current.clinic_id, detail={"access": "ended"})


@action
def restore_access(*, membership: Membership, by: User) -> None:
    if Membership.all_objects.filter(pk=membership.pk, ended_at__isnull=False).update(
            ended_at=None):
        membership.user.bump_security_stamp()
        trail.record("update", object_type="membership", object_id=membership.pk,
                     clinic_id=membership.clinic_id, detail={"access": "restored"})


# ---- whoever runs the server (kapclinic createclinic / createuser) ------------------------

@action
def create_clinic(*, slug: str, name: str, time_zone: str, by: User | None) -> Clinic:
    """A new clinic (site), audited in its own trail. Raises ValidationError naming the
    field (a taken slug, an unknown time zone)."""
    clinic = Clinic(slug=slug, name=name, time_zone=time_zone)
    clinic.full_clean()
    clinic.save()
    trail.record("create", object_type="clinic", object_id=clinic.pk, clinic_id=clinic.pk,
                 detail={"slug": slug, "name": name, "time_zone": time_zone})
    return clinic


@action
def grant_role(*, clinic: Clinic, username: str, role: str, by: User | None,
               password_hash: str | None = None, first_name: str = "",
               last_name: str = "") -> Membership:
    """The server operator's way in: ``username`` works in ``clinic`` as ``role``; a new
    account is made with ``password_hash`` (an existing one keeps its password). Unlike
    add_staff, any existing account may be given a role (the operator vouches for it), but
    never a patient's portal login, and an ended access is restored on the Users page."""
    if role not in Role.values:
        raise StaffError("role", f"unknown role {role!r}; choose one of {', '.join(Role.values)}")
    if role == Role.PATIENT:
        raise StaffError("role", NOT_STAFF)
    Clinic.objects.select_for_update(no_key=True).filter(pk=clinic.pk).exists()  # rows may name it meanwhile
    user = User.objects.filter(username=username).first()
    new_user = user is None
    if user is None:
        user = User(username=username, first_name=first_name, last_name=last_name)
        if password_hash:
            user.password = password_hash
        else:
            user.set_unusable_password()
        user.save()
    elif is_patient_anywhere(user):
        raise StaffError("username", f"{username} is a patient's portal login. {NOT_STAFF}")
    elif _memberships_here(user, clinic.pk).filter(ended_at__isnull=False).exists():
        raise StaffError("access", f"{username}'s access to {clinic.slug} was ended: restore it "
                                   "on the Users page")
    elif for_clinic(Membership.objects.filter(user=user), clinic.pk).exists():
        raise StaffError("username", f"{username} is already a member of {clinic.slug}")
    membership = Membership.objects.create(user=user, clinic=clinic, role=role)
    user.bump_security_stamp()
    trail.record("create", object_type="membership", object_id=membership.pk,
                 clinic_id=clinic.pk, detail={"user": user.pk, "username": user.username,
                                              "role": role, "new_user": new_user})
    return membership
