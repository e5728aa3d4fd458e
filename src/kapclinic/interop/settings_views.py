"""The admin's export settings: how long bulk export files are kept, and the research data set's
smallest group (k) and date shift. Saved compare-and-swap on a version, audited."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from kapclinic.accounts import scoping
from kapclinic.accounts.permissions import Action, require
from kapclinic.platform.idempotency import one_time_form

from . import actions
from .actions import FIELDS
from .models import InteropSettings


class ExportSettingsForm(forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)

    class Meta:
        model = InteropSettings
        fields = FIELDS


@require(Action.EXPORT_SETTINGS)
@require_http_methods(["GET", "POST"])
@one_time_form
def export_settings(request: HttpRequest) -> HttpResponse:
    current = scoping.clinic_settings(InteropSettings, request.membership.clinic_id)
    form = ExportSettingsForm(request.POST or None, instance=current,
                              initial={"version": current.version})
    conflict = False
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_export_settings(clinic_id=request.membership.clinic_id,
                                 values={name: form.cleaned_data[name] for name in FIELDS},
                                 expected_version=form.cleaned_data["version"], by=request.user)
        except actions.Conflict:
            conflict = True
        else:
            messages.success(request, "Export settings saved.")
            return redirect("export-settings")
    return render(request, "interop/settings.html", {"form": form, "conflict": conflict},
                  status=409 if conflict else 422 if form.errors else 200)
