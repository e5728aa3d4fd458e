"""API: the current user."""


from ninja import Schema

from kapclinic.accounts.api_auth import GuardedRouter
from kapclinic.accounts.permissions import Action, require

router = GuardedRouter(tags=["account"])


class ClinicOut(Schema):
    id: int
    slug: str
    name: str
    time_zone: str
    role: str


class MeOut(Schema):
    username: str
    name: str
    active_clinic: ClinicOut | None
    clinics: list[ClinicOut]


def _clinic(membership) -> ClinicOut:
    clinic = membership.clinic
    return ClinicOut(id=clinic.pk, slug=clinic.slug, name=clinic.name,
                     time_zone=clinic.time_zone, role=membership.role)


@router.get("/me", response=MeOut)
@require(Action.SELF_VIEW)
def me(request):
    memberships = request.user.memberships.select_related("clinic").order_by("clinic__name")
    return MeOut(username=request.user.username, name=request.user.display_name,
                 active_clinic=_clinic(request.membership) if request.membership else None,
                 clinics=[_clinic(m) for m in memberships])
