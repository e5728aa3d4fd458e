"""One clinic-scoping layer: which rows are a clinic's, the one way to list them, and the one
way to fetch one for a user (another clinic's row is an audited 404).

Every kapclinic model declares how its rows reach their clinic, as a queryset filter writes
it: ``clinic_path = "patient__clinic"`` (``"pk"`` for the clinic itself). A model whose rows
belong to no clinic says so and why: ``clinic_path = None`` with ``global_reason = "..."``.
tests/test_clinic_scoping.py fails naming a model that declares neither, and the
cross-clinic sweep (tests/test_cross_clinic_sweep.py) reads the same declarations.

- lists: :func:`for_clinic` (``for_clinic(Schedule, clinic_id)``, or a queryset to narrow);
- one row: :func:`get_for_user` (permission check, clinic scope, audited 404).

This module imports no app (accounts sits below the patient registry and the feature apps):
callers pass the model or queryset.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404, HttpRequest

from kapclinic.accounts.permissions import Action, check

NOT_HERE = "not in the active clinic or does not exist"


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
