"""Template context every page needs: the active clinic, the role and what it may do."""

from __future__ import annotations

from django.http import HttpRequest

from kapclinic.accounts.permissions import Action, role_can


def navigation(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    role = membership.role if membership else None
    from kapclinic.accounts import mfa

    pending = membership is not None and mfa.pending_step(request) is not None
    # while the second factor is owed, the menu offers nothing it would refuse
    can = {action.name.lower(): role_can(role, action) and not pending for action in Action}
    memberships = []
    if membership is not None:
        memberships = list(request.user.memberships.select_related("clinic").order_by("clinic__name"))
    open_alerts = 0
    if can["alert_view"]:
        from kapclinic.measures.models import Alert

        open_alerts = Alert.objects.filter(patient__clinic_id=membership.clinic_id,
                                           acknowledged_at__isnull=True).count()
    return {"membership": membership, "can": can, "memberships": memberships,
            "open_alert_count": open_alerts}
