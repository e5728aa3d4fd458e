"""The session's Spravato REMS Patient Monitoring Form: the form generated from the session,
printable on one page (the "REMS form" block of app.css), a banner until it is marked
submitted, and the form to mark it (date and method). Only esketamine sessions have one; any
other session's form is a 404 with a plain message. Opening it is audited as a read of the
session; marking it goes through ``rems.mark_rems_submitted``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from kapclinic.accounts.permissions import Action, require, role_can
from kapclinic.platform.idempotency import one_time_form
from kapclinic.treatment import rems
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import Session
from kapclinic.treatment.reads import session_for_user
from kapclinic.treatment.rems_models import RemsFormDetails, SubmissionMethod

NO_FORM = ("Only esketamine (Spravato) sessions have a REMS Patient Monitoring Form; this "
           "session is {protocol}.")


class SubmittedForm(forms.Form):
    submitted_on = forms.DateField(label="Submitted on", widget=forms.DateInput(attrs={"type": "date"}))
    method = forms.ChoiceField(label="How", choices=SubmissionMethod.choices, widget=forms.RadioSelect)


def _page(request: HttpRequest, session: Session, *, form: SubmittedForm | None = None,
          status: int = 200) -> HttpResponse:
    context: dict[str, Any] = {"session": session, "patient": session.patient}
    if not rems.has_form(session):
        context["no_form"] = NO_FORM.format(protocol=session.protocol_label)
        return render(request, "treatment/rems.html", context, status=404)
    content = rems.form_for(session)
    submission = rems.standing_submission(session)
    today = timezone.now().astimezone(session.patient.clinic.zone).date()
    can_mark = role_can(request.membership.role, Action.SESSION_RUN)
    details = RemsFormDetails.for_clinic(session.patient.clinic_id)
    context.update({
        "content": content, "submission": submission, "today": today,
        "overdue": content is not None and submission is None and content.due_on is not None
        and today > content.due_on,
        "mark_form": (form or SubmittedForm(initial={"submitted_on": today}))
        if can_mark and content is not None and submission is None else None,
        # the clinic's address is typed once on the REMS form details page, not on each form
        "details_missing": not all((details.address, details.city, details.state, details.zip_code)),
        "can_edit_details": role_can(request.membership.role, Action.SESSION_SETTINGS),
    })
    return render(request, "treatment/rems.html", context, status=status)


@require(Action.SESSION_VIEW)
@require_GET
def rems_form(request: HttpRequest, session_id: int) -> HttpResponse:
    session = session_for_user(request, session_id, Action.SESSION_VIEW, audit_read=True)
    return _page(request, session)


@require(Action.SESSION_RUN)
@require_POST
@one_time_form
def mark_submitted(request: HttpRequest, session_id: int) -> HttpResponse:
    session = session_for_user(request, session_id, Action.SESSION_RUN)
    if not rems.has_form(session):
        return _page(request, session)
    form = SubmittedForm(request.POST)
    if not form.is_valid():
        return _page(request, session, form=form, status=422)
    try:
        rems.mark_rems_submitted(session=session, submitted_on=form.cleaned_data["submitted_on"],
                                 method=form.cleaned_data["method"], by=request.user)
    except FieldError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _page(request, session, form=form, status=422)
    messages.success(request, "The REMS form is marked submitted.")
    return redirect("session-rems", session_id=session.pk)
