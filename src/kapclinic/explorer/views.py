"""The dose explorer page: decision support from published models, not a dosing order."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kapclinic.accounts.permissions import Action, require
from kapclinic.clinical import pk
from kapclinic.explorer.explorer import FIELD_ALIASES, explore
from kapclinic.explorer.forms import ExplorerForm
from kapclinic.explorer.words import input_message
from kapclinic.platform.labels import route_in_sentence


@require(Action.PK_SIMULATE)
def dose_explorer(request: HttpRequest) -> HttpResponse:
    form = ExplorerForm.with_defaults(request.GET)
    exploration = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            exploration = explore(drug=data["drug"], route=data["route"], hours=data["hours"],
                                  compare_route=data["compare_route"],
                                  covariates=form.covariate_kwargs(), **form.dose_kwargs())
        except pk.PKInputError as exc:
            name = FIELD_ALIASES.get(exc.field, exc.field)
            form.add_error(name if name in form.fields else None,
                           input_message(exc.field, str(exc)))
    context = {"form": form, "exploration": exploration, "models": pk.list_models(),
               "route_label": route_in_sentence(form.data.get("route", "")),
               "compare_label": route_in_sentence(form.data.get("compare_route", ""))}
    template = "explorer/_result.html" if request.htmx else "explorer/explorer.html"
    return render(request, template, context, status=200 if exploration else 422)
