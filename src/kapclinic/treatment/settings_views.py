"""The clinic's session settings, its protocols and its REMS form details (pages).

Settings hold no health information, so opening them is not audited; saving goes through
``settings_actions`` (audited, compare-and-swap, every value checked again there).
"""

from __future__ import annotations

import os
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from kapclinic.accounts.permissions import Action, require, role_can
from kapclinic.clinical import protocols as core
from kapclinic.platform.idempotency import one_time_form
from kapclinic.treatment import settings_actions as actions
from kapclinic.treatment import settings_catalog as catalog
from kapclinic.treatment.models import TreatmentSettings
from kapclinic.treatment.rems_models import RemsFormDetails
from kapclinic.treatment.settings_forms import RemsDetailsForm, SessionSettingsForm


def _their_changes(form: SessionSettingsForm, current: TreatmentSettings) -> int:
    """How many values now stored differ from what this form was about to save."""
    mine = form.values()
    return len(actions.changes_between({name: getattr(current, name) for name in mine}, mine))


@require(Action.SESSION_SETTINGS)
@require_http_methods(["GET", "POST"])
@one_time_form
def session_settings(request: HttpRequest) -> HttpResponse:
    clinic_id = request.membership.clinic_id
    stored = TreatmentSettings.for_clinic(clinic_id)
    form = SessionSettingsForm(request.POST or None, stored=stored)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_session_settings(clinic_id=clinic_id, values=form.values(), by=request.user,
                                          expected_version=form.cleaned_data["version"])
        except actions.SettingsConflict as exc:
            # the typing stays on screen, now against the current version: saving again is a
            # deliberate choice to replace the other person's values with these
            current = TreatmentSettings.for_clinic(clinic_id)
            conflict = {"message": str(exc), "differ": _their_changes(form, current)}
            data = request.POST.copy()
            data["version"] = str(current.version)
            form = SessionSettingsForm(data, stored=current)
            form.is_valid()
        except actions.SettingsError as exc:
            form.add_settings_error(exc)
        else:
            messages.success(request, "Session settings saved. Sessions booked from now on use "
                                      "them; sessions already booked keep theirs.")
            return redirect("session-settings")
    return render(request, "treatment/settings.html", {
        "form": form, "sections": form.layout(), "conflict": conflict,
    }, status=409 if conflict else 422 if form.errors else 200)


@require(Action.PROTOCOL_VIEW)
@require_GET
def protocol_list(request: HttpRequest) -> HttpResponse:
    """The protocols this clinic can book, with the clinic's settings applied."""
    clinic_id = request.membership.clinic_id
    stored = TreatmentSettings.for_clinic(clinic_id)
    context: dict[str, Any] = {"clinic_dir_env": core.definitions.CLINIC_DIR_ENV,
                               "can_change": role_can(request.membership.role, Action.SESSION_SETTINGS)}
    try:
        installed = core.load_all()
    except core.ProtocolFileError as exc:
        # a broken file in the clinic's folder: say which and where, as the CLI does
        context["broken"] = str(exc)
        return render(request, "treatment/protocols_list.html", context, status=500)
    views = []
    for pid, protocol in installed.items():
        try:
            applied = protocol.configured((stored.protocol_settings or {}).get(pid) or {},
                                          preset=(stored.protocol_presets or {}).get(pid) or None)
        except core.ProtocolSettingError:
            applied = protocol  # a stored choice the file no longer allows: the file's own
        views.append(catalog.protocol_view(applied))
    context.update(protocols=views,
                   clinic_dir_set=bool(os.environ.get(core.definitions.CLINIC_DIR_ENV, "").strip()))
    return render(request, "treatment/protocols_list.html", context)


@require(Action.SESSION_SETTINGS)
@require_http_methods(["GET", "POST"])
@one_time_form
def rems_details(request: HttpRequest) -> HttpResponse:
    clinic_id = request.membership.clinic_id
    stored = RemsFormDetails.for_clinic(clinic_id)
    form = RemsDetailsForm(request.POST or None, instance=stored)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_rems_details(clinic_id=clinic_id, values=form.values(), by=request.user,
                                      expected=form.cleaned_data["fingerprint"])
        except actions.SettingsConflict as exc:
            conflict = str(exc)
            data = request.POST.copy()
            data["fingerprint"] = actions.rems_fingerprint(RemsFormDetails.for_clinic(clinic_id))
            form = RemsDetailsForm(data, instance=RemsFormDetails.for_clinic(clinic_id))
            form.is_valid()
        except actions.SettingsError as exc:
            form.add_error(exc.field if exc.field in form.fields else None,
                           exc.message[:1].upper() + exc.message[1:] + ".")
        else:
            messages.success(request, "REMS form details saved: every form printed from now on "
                                      "shows them.")
            return redirect("rems-details")
    return render(request, "treatment/settings_rems.html", {"form": form, "conflict": conflict},
                  status=409 if conflict else 422 if form.errors else 200)
