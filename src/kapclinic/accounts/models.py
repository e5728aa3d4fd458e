"""Clinics (sites), the people who work in them, and API tokens."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from kapclinic.accounts.roles import Role
from kapclinic.privacy import classify


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not a known IANA time zone, e.g. America/New_York") from exc


class Clinic(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    is_demo = models.BooleanField(default=False, help_text="Holds synthetic demo data only.")
    # [policy] off by default (the demo logs in with a password alone); the admin turns it
    # on: then every user of the clinic enrols an authenticator app before anything else.
    require_mfa = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    clinic_path = "pk"
    # the clinic a patient attends narrows where they live
    FIELD_CLASSES = classify(
        quasi_identifier=("slug", "name", "time_zone"),
        none=("id", "is_demo", "require_mfa", "created_at"),
    )

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class User(AbstractUser):
    """A person who logs in. Their role is per clinic, on Membership."""

    clinic_path = "memberships__clinic"  # a person may work in several clinics
    FIELD_CLASSES = classify(
        direct_identifier=("username", "first_name", "last_name", "email"),
        date=("last_login", "date_joined"),
        none=("id", "password", "is_superuser", "is_staff", "is_active", "security_stamp"),
    )

    # Only ever increases: moved on by every change of the person's access (access ended or
    # restored, a role changed, an invitation accepted) and of their password. Set-password
    # links carry it, so a link a change cancelled stays cancelled when the change is undone.
    security_stamp = models.PositiveBigIntegerField(default=0)

    def set_password(self, raw_password):
        super().set_password(raw_password)
        self.security_stamp = (self.security_stamp or 0) + 1

    def bump_security_stamp(self) -> None:
        """Move the stamp on in the database (a conditional-free increment: never back)."""
        User.objects.filter(pk=self.pk).update(security_stamp=models.F("security_stamp") + 1)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class CurrentMemberships(models.Manager):
    """Memberships whose access has not ended: every lookup that grants access uses these."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(ended_at__isnull=True)


class Membership(models.Model):
    """A user's role in one clinic. Access is ended, never deleted, so who worked where stays
    on record; the default manager (and ``user.memberships``) shows current ones only."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    clinic_path = "clinic"
    FIELD_CLASSES = classify(
        date=("created_at", "ended_at"),
        coded=("role",),
        none=("id", "user", "clinic"),
    )

    all_objects = models.Manager()
    objects = CurrentMemberships()

    class Meta:
        default_manager_name = "objects"
        base_manager_name = "all_objects"
        constraints = [
            models.UniqueConstraint(fields=["user", "clinic"], name="one_role_per_user_per_clinic"),
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="membership_role_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}) at {self.clinic}"


class InvitationState(models.TextChoices):
    PENDING = "pending", "Waiting for an answer"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"


class Invitation(models.Model):
    """A clinic's offer of a role to someone's existing account. It grants nothing (no
    membership, no account events, no view of their tokens) until the person accepts it while
    logged in; declined or accepted, it stays on record."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="invitations")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="invitations")
    role = models.CharField(max_length=20, choices=Role.choices)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=InvitationState.choices,
                             default=InvitationState.PENDING)
    answered_at = models.DateTimeField(null=True, blank=True)

    clinic_path = "clinic"
    FIELD_CLASSES = classify(
        date=("created_at", "answered_at"),
        coded=("role", "state"),
        none=("id", "clinic", "user", "invited_by"),
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "clinic"],
                                    condition=models.Q(state="pending"),
                                    name="one_pending_invitation_per_user_per_clinic"),
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]) & ~models.Q(role="patient"),
                name="invitation_role_staff"),
            models.CheckConstraint(
                condition=models.Q(state="pending", answered_at__isnull=True)
                | (~models.Q(state="pending") & models.Q(answered_at__isnull=False)),
                name="invitation_answered_when_answered"),
        ]

    def __str__(self) -> str:
        return f"{self.clinic} invites {self.user} as {self.get_role_display()}"


class TokenScope(models.TextChoices):
    READ = "read", "Read only"
    WRITE = "write", "Read and write"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A per-user bearer token for scripts. Only its SHA-256 is stored."""

    PREFIX = "kap_"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=10, choices=TokenScope.choices, default=TokenScope.READ)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    clinic_path = "user__memberships__clinic"  # its user's clinics
    # the name is typed by its owner ('Dr Lee's laptop')
    FIELD_CLASSES = classify(
        date=("created_at", "expires_at", "revoked_at", "last_used_at"),
        free_text=("name",),
        coded=("scope",),
        none=("id", "user", "token_hash"),
    )

    def __str__(self) -> str:
        return f"token {self.name!r} of {self.user}"

    @staticmethod
    def new_secret() -> str:
        return ApiToken.PREFIX + secrets.token_urlsafe(32)

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


def clinic_roles(user_ids: set[int]) -> dict[int, list[tuple[int, str]]]:
    """Each user's current clinics with their role there, in clinic order (for the audit
    trail, which places an account event in every clinic of its user)."""
    found: dict[int, list[tuple[int, str]]] = {}
    for user_id, clinic_id, role in (Membership.objects.filter(user_id__in=user_ids)
                                     .order_by("clinic_id")
                                     .values_list("user_id", "clinic_id", "role")):
        found.setdefault(user_id, []).append((clinic_id, role))
    return found
