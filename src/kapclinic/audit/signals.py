"""Logins and logouts go to the audit trail too, in every clinic of the user."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from kapclinic.audit import context, trail


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    context.set_actor(user, None)  # the request began anonymous: the entry names who logged in
    trail.record("login", object_type="user", object_id=user.pk)


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        trail.record("logout", object_type="user", object_id=user.pk)


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    # The account tried (when there is one) so its clinics' admins see the attempt.
    user_id = (get_user_model().objects.filter(username=username).values_list("pk", flat=True)
               .first())
    trail.record("login_failed", object_type="user", object_id=user_id or "",
                 detail={"username": username})
