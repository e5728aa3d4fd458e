"""One clinic-scoping layer: which rows are a clinic's, the one way to list them, and the one
way to fetch one for a user (another clinic's row is an audited 404).

Every kapclinic model declares how its rows reach their clinic, as a queryset filter writes
it: ``clinic_path = "patient__clinic"`` (``"pk"`` for the clinic itself). A model whose rows
belong to no clinic says so and why: ``clinic_path = None`` with ``global_reason = "..."``.
tests/test_clinic_scoping.py fails naming a model that declares neither, and the
cross-clinic sweep (tests/test_cross_clinic_sweep.py) reads the same declarations.

- lists: :func:`for_clinic` (``for_clinic(Schedule, clinic_id)``, or a queryset to narrow);
- one row: :func:`get_for_user` (permission check, clinic scope, audited 404).

A second dimension, the care team (minimum necessary): a model whose rows only the patient's
care team reads declares the lookup to that patient, ``care_team_path = "patient"``. Lists of
it go through :func:`for_care_team`; :func:`get_for_user` refuses a row of the clinic whose
patient's care team does not include the user with an audited :class:`OutsideCareTeam` (403:
the row exists, and an emergency access may open it). Who is on a care team is what the apps
register as ``extensions.CareTeamSource``; a role the matrix names for
``Action.NOTE_READ_ANY_PATIENT`` reads every patient's.

This module imports no app (accounts sits below the patient registry and the feature apps):
callers pass the model or queryset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import models
from django.db.models import Q
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404, HttpRequest

from kapclinic.accounts.permissions import Action, check, role_can
from kapclinic.platform import extensions

NOT_HERE = "not in the active clinic or does not exist"
NOT_CARE_TEAM = "not on the patient's care team"


def clinic_path(model: type[models.Model]) -> str | None:
    """The model's declared lookup from a row to its clinic; None for a global model.
    Raises ImproperlyConfigured for a model that declares neither."""
    if "clinic_path" not in _declared(model):
        raise ImproperlyConfigured(
            f"{model._meta.label} does not say how its rows reach a clinic: give it "
            "clinic_path = '<lookup to the clinic>' (e.g. 'patient__clinic'), or "
            "clinic_path = None with global_reason = '<why its rows belong to no clinic>'.")
    path = model.clinic_path  # type: ignore[attr-defined]
    if path is None and not getattr(model, "global_reason", ""):
        raise ImproperlyConfigured(f"{model._meta.label} is global (clinic_path = None) "
                                   "without a global_reason saying why.")
    return path


def _declared(model: type[models.Model]) -> set[str]:
    """Names declared on the model or a concrete parent (not an abstract base such as
    CorrectableRecord: each table says it for itself)."""
    names: set[str] = set()
    for klass in model.__mro__:
        meta = getattr(klass, "_meta", None)
        if meta is not None and not meta.abstract:
            names |= set(vars(klass))
    return names


def _crosses_many(model: type[models.Model], path: str) -> bool:
    """Whether the path walks a one-to-many or many-to-many relation (a user of several
    clinics): filtering through it would repeat rows, so it is used as a subquery."""
    opts = model._meta
    for part in path.split(LOOKUP_SEP):
        if part == "pk":
            return False
        field = opts.get_field(part)
        if field.one_to_many or field.many_to_many:
            return True
        if not field.is_relation:
            return False
        opts = field.related_model._meta
    return False


def _queryset(model_or_queryset: Any) -> models.QuerySet:
    """A model, a manager (``Membership.all_objects``) or a queryset, as a queryset."""
    if isinstance(model_or_queryset, models.QuerySet):
        return model_or_queryset
    if isinstance(model_or_queryset, models.Manager):
        return model_or_queryset.all()
    return model_or_queryset._default_manager.all()


def for_clinic(model_or_queryset: Any, clinic_id: int) -> models.QuerySet:
    """The rows of ``clinic_id`` only: the one way a page or endpoint lists a clinic's rows.
    Pass a model, a manager, or a queryset already narrowed (``Alert.objects.filter(...)``)."""
    queryset = _queryset(model_or_queryset)
    model = queryset.model
    path = clinic_path(model)
    if path is None:
        raise ImproperlyConfigured(f"{model._meta.label} belongs to no clinic "
                                   f"({model.global_reason}); it has no clinic's rows to list.")
    if _crosses_many(model, path):
        return queryset.filter(pk__in=model._base_manager.filter(**{path: clinic_id})
                               .values("pk"))
    return queryset.filter(**{path: clinic_id})


def clinic_column(model: type[models.Model]) -> str:
    """The column holding the clinic of a model whose rows name it themselves (its clinic_path
    one step, to the clinic), for a fixed SQL statement, which cannot take ``for_clinic``'s
    filter (the bedside monitors' writer). Raises ImproperlyConfigured for any other model."""
    path = clinic_path(model)
    if path is None or path == "pk" or LOOKUP_SEP in path:
        raise ImproperlyConfigured(f"{model._meta.label} does not name its clinic in a column of its "
                                   f"own (clinic_path {path!r}): list its rows with for_clinic.")
    return model._meta.get_field(path).column


def record_type(model: type[models.Model]) -> str:
    """What the audit trail calls a row of ``model``: ``EligibilityDecision`` ->
    ``eligibility_decision`` (web.audit_log.RECORD_LABELS puts them in words)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower()


def patient_path(model: type[models.Model]) -> str | None:
    """The lookup from a row to the patient it is about, if any (the trail files a probe of a
    patient's record under that patient): ``"pk"`` for the patient, a ``patient`` field, or
    the patient step of the clinic path (``intake__patient`` for an intake revision)."""
    if model._meta.label_lower == "patients.patient":
        return "pk"
    field = next((f for f in model._meta.concrete_fields if f.name == "patient"), None)
    if field is not None and field.is_relation:
        return "patient"
    parts = (clinic_path(model) or "").split(LOOKUP_SEP)
    if "patient" in parts[:-1]:
        return LOOKUP_SEP.join(parts[: parts.index("patient") + 1])
    return None


def get_for_user(request: HttpRequest, model_or_queryset: Any, pk: Any, action: Action, *,
                 audit_read: bool = True) -> Any:
    """The row ``pk`` of ``model_or_queryset`` if it is in the request's active clinic and the
    role may perform ``action``; pass a queryset to narrow further (a patient's own consents).

    Any other row, of another clinic or not at all, does not exist for this user: Http404,
    and the attempt is written to the audit trail, and to the trail of the clinic owning
    the row (naming its patient there, and only there), so a probe is seen where it aims.
    A found row is audited as read unless ``audit_read`` is False (the caller audits what
    it does with it, or the parent's read already covers it).
    """
    from kapclinic.audit import trail

    check(request, action)
    queryset = _queryset(model_or_queryset)
    model = queryset.model
    kind = record_type(model)
    clinic_id = request.membership.clinic_id  # type: ignore[attr-defined]
    found = for_clinic(queryset, clinic_id).filter(pk=pk).first() if _is_key(pk) else None
    about = patient_path(model)
    if found is None:
        trail.record_many([
            trail.Event("denied", kind, str(pk)[:64], detail={"reason": NOT_HERE,
                                                              "path": request.path}),
            *_owner_events(request, model, pk, kind, about)])
        raise Http404(f"No such {kind.replace('_', ' ')}")
    if care_team_path(model) is not None:
        patient_id = _patient_id(found, care_team_path(model))
        if not on_care_team(Viewer.of(request), patient_id):
            trail.record("denied", object_type=kind, object_id=found.pk, patient_id=patient_id,
                         detail={"reason": NOT_CARE_TEAM, "path": request.path})
            raise OutsideCareTeam(kind, patient_id)
    if audit_read:
        trail.record("read", object_type=kind, object_id=found.pk,
                     patient_id=_patient_id(found, about))
    return found


def _patient_id(row: models.Model, about: str | None) -> int | None:
    if about is None:
        return None
    if about == "pk":
        return row.pk
    if LOOKUP_SEP not in about:
        return getattr(row, f"{about}_id")
    return type(row)._base_manager.filter(pk=row.pk).values_list(about, flat=True).first()


def _is_key(pk: Any) -> bool:
    return isinstance(pk, int) or (isinstance(pk, str) and pk.isdigit() and len(pk) <= 18)


def _owner_events(request: HttpRequest, model: type[models.Model], pk: Any, kind: str,
                  about: str | None) -> list:
    """A denied event in each other clinic owning row ``pk`` (none when it does not exist)."""
    from kapclinic.audit import trail

    path = clinic_path(model)
    if path is None or not _is_key(pk):
        return []
    here = request.membership.clinic_id  # type: ignore[attr-defined]
    fields = [path, about] if about else [path]
    owners = model._base_manager.filter(pk=pk).values_list(*fields).distinct()
    return [trail.Event("denied", kind, pk, patient_id=row[1] if about else None,
                        clinic_id=row[0], detail={
                            "reason": "asked for by a user of another clinic",
                            "from_clinic": here, "path": request.path})
            for row in owners if row[0] is not None and row[0] != here]


def clinic_settings(model: Any, clinic_id: int) -> Any:
    """The clinic's stored row of a one-per-clinic settings model, or the model's labelled
    defaults unsaved: reading a settings page never writes (the save action creates the row)."""
    return for_clinic(model, clinic_id).first() or model(clinic_id=clinic_id)


# --- the care team: the second dimension --------------------------------------------------

class OutsideCareTeam(PermissionDenied):
    """A row of the clinic restricted to its patient's care team, asked for by someone outside
    it (already audited): a 403, and the page may offer emergency access to ``patient_id``."""

    def __init__(self, kind: str, patient_id: int | None) -> None:
        super().__init__(f"This {kind.replace('_', ' ')} is read by the patient's care team only.")
        self.kind = kind
        self.patient_id = patient_id


@dataclass(frozen=True)
class Viewer:
    """Who is reading, as the care-team rule needs it (from a request, or the audit context in
    code that never sees one: a chart section's loader)."""

    user_id: int | None
    clinic_id: int | None
    role: str | None

    @classmethod
    def of(cls, request: HttpRequest) -> Viewer:
        membership = request.membership  # type: ignore[attr-defined]
        return cls(request.user.pk, membership.clinic_id, membership.role)

    @classmethod
    def current(cls) -> Viewer:
        from kapclinic.audit import context

        actor = context.current()
        return cls(actor.user_id, actor.clinic_id, actor.role)

    @property
    def reads_every_patient(self) -> bool:
        try:
            return role_can(self.role, Action.NOTE_READ_ANY_PATIENT)
        except ValueError:  # "system", "anonymous": not a role of the matrix
            return False


def care_team_path(model: type[models.Model]) -> str | None:
    """The lookup from a row restricted to the care team to its patient (None: not restricted)."""
    return getattr(model, "care_team_path", None)


def _care_team_filter(path: str, viewer: Viewer) -> Q:
    """The rows whose patient (reached by ``path``) has the viewer on the care team, for any of
    the registered reasons: each source gives a queryset of patients, used as a subquery."""
    if viewer.user_id is None or viewer.clinic_id is None:
        return Q(pk__in=[])
    query = Q(pk__in=[])
    for source in extensions.care_team_sources():
        query |= Q(**{f"{path}__in": source.patient_ids(viewer.user_id, viewer.clinic_id)})
    return query


def for_care_team(model_or_queryset: Any, viewer: Viewer) -> models.QuerySet:
    """The viewer's clinic's rows whose patient has the viewer on the care team (every row of
    the clinic for a role the matrix lets read every patient's): the one way to list a
    model that declares ``care_team_path``."""
    queryset = for_clinic(model_or_queryset, viewer.clinic_id or 0)
    path = care_team_path(queryset.model)
    if path is None:
        raise ImproperlyConfigured(f"{queryset.model._meta.label} is not restricted to a care "
                                   "team: list it with for_clinic.")
    if viewer.reads_every_patient:
        return queryset
    return queryset.filter(_care_team_filter(path, viewer))


def on_care_team(viewer: Viewer, patient_id: int | None) -> bool:
    """Whether the viewer reads this patient's care-team records now (one query)."""
    if patient_id is None:
        return False
    if viewer.reads_every_patient:
        return True
    sources = extensions.care_team_sources()
    if viewer.user_id is None or viewer.clinic_id is None or not sources:
        return False
    patients = sources[0].patient_ids(viewer.user_id, viewer.clinic_id).model._base_manager
    return patients.filter(pk=patient_id).filter(_care_team_filter("pk", viewer)).exists()


def care_team_reasons(viewer: Viewer, patient_id: int) -> list[str]:
    """Why the viewer is on this patient's care team (the sources' labels), for the page."""
    if viewer.user_id is None or viewer.clinic_id is None:
        return []
    return [source.label for source in extensions.care_team_sources()
            if source.patient_ids(viewer.user_id, viewer.clinic_id).filter(pk=patient_id).exists()]
