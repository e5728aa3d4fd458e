"""Logins and logouts go to the audit trail too."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from kapclinic.audit import trail


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    trail.record("login", object_type="user", object_id=user.pk)


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        trail.record("logout", object_type="user", object_id=user.pk)


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    trail.record("login_failed", object_type="user",
                 detail={"username": str(credentials.get("username", ""))[:150]})
