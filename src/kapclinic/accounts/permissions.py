"""The one permission matrix (role x action) and the one way views check it.

Every page and API endpoint is wrapped in :func:`require`; patient objects are
fetched only through :func:`get_patient_for_user`, the single place where
clinic scoping happens. ``tests/test_permission_matrix.py`` walks every URL with
every role, so a view without a permission fails the suite.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import escape

from kapclinic.accounts.roles import Role


class Action(enum.StrEnum):
    SELF_VIEW = "self.view"            # own account, home page, clinic switch
    PATIENT_LIST = "patient.list"
    PATIENT_VIEW = "patient.view"      # a chart: health information
    PATIENT_CREATE = "patient.create"
    PATIENT_EDIT = "patient.edit"      # demographics, status, care team, conditions
    AUDIT_VIEW = "audit.view"
    PK_SIMULATE = "pk.simulate"        # dose explorer: decision support, no patient data
    INTAKE_EDIT = "intake.edit"
    SCREENING_EVALUATE = "screening.evaluate"
    SCREENING_SIGNOFF = "screening.signoff"
    CONSENT_RECORD = "consent.record"    # sign in clinic, record a withdrawal
    CONSENT_TEXT_EDIT = "consent.text_edit"
    PORTAL = "portal.use"              # a patient's own portal
    MEASURE_ENTER = "measure.enter"      # a questionnaire entered in clinic
    MEASURE_SEND = "measure.send"        # self-report links and schedules
    ALERT_VIEW = "alert.view"
    ALERT_ACKNOWLEDGE = "alert.acknowledge"
    OUTBOX_VIEW = "outbox.view"
    DASHBOARD_VIEW = "dashboard.view"    # clinic outcomes: rates, relapse curve, lists
    MEASURE_SETTINGS = "measure.settings"  # crisis text, escalation time, schedules
    OUTCOME_SETTINGS = "outcome.settings"  # response/remission/relapse rules of the clinic
    EVENT_RECORD = "event.record"          # an event that can define relapse (hospitalisation...)
    SECURITY_SETTINGS = "security.settings"  # two-factor requirement, reset a lost authenticator
    USER_MANAGE = "user.manage"            # add staff, change a role, end access, password links
    TOKEN_REVOKE = "token.revoke"  # noqa: S105 (an action name) revoke a token: own, admin: clinic's
    SESSION_VIEW = "session.view"          # dosing sessions, their vitals, the room board
    SESSION_SCHEDULE = "session.schedule"  # book a dosing session
    SESSION_RUN = "session.run"            # check-in, checklist, vitals, the session's steps
    SESSION_INTENTION = "session.intention"  # the therapist's note of intention (a checklist item)
    SESSION_SETTINGS = "session.settings"  # protocol settings, monitoring thresholds, rooms, REMS details
    PROTOCOL_VIEW = "protocol.view"        # the clinic's protocols as data (no health information)
    DOSE_ADMINISTER = "dose.administer"    # record the dose given
    DOSE_CONFIRM = "dose.confirm"          # be the second clinician for a dose outside the protocol
    SESSION_VISIT_CODES = "session.visit_codes"  # the sessions' visit codes of a period (CSV for billing)
    STOCK_VIEW = "stock.view"              # the controlled-substance stock and a lot's ledger
    STOCK_SETUP = "stock.setup"            # products, lots, storage locations, record settings
    STOCK_RECEIVE = "stock.receive"        # containers of a lot received
    STOCK_ADMINISTER = "stock.administer"  # a session's dose drawn from a lot
    STOCK_WASTE = "stock.waste"            # the rest of a dose wasted; also who may witness it
    STOCK_TRANSFER = "stock.transfer"      # stock moved between locations
    STOCK_REVERSE = "stock.reverse"        # a mistaken ledger line reversed, with a reason
    STOCK_COUNT = "stock.count"            # a count at shift change, on demand, an inventory
    STOCK_RESOLVE = "stock.resolve"        # a count's discrepancy resolved with a reason
    STOCK_SETTINGS = "stock.settings"      # the record settings: witness rule, retention, counts
    STOCK_DISPOSE = "stock.dispose"        # destruction (Form 41) and return to a distributor
    STOCK_REPORT_LOSS = "stock.report_loss"  # a theft or loss recorded, and its DEA notices
    STOCK_REPORTS = "stock.reports"        # the DEA records for a period, on a page and as CSV
    ADVERSE_EVENT_RECORD = "adverse_event.record"  # an adverse event recorded for a patient
    ADVERSE_EVENT_REVIEW = "adverse_event.review"  # the prescriber's causality, the REMS report
    ADVERSE_EVENT_SETTINGS = "adverse_event.settings"  # the clinic's terms and lists
    SAFETY_LISTING = "safety.listing"      # events per period by protocol and route, and CSV
    NOTE_READ = "note.read"                # therapy notes of the patients whose care team one is on
    NOTE_WRITE = "note.write"              # preparation, dosing-session, integration, progress notes
    NOTE_COSIGN = "note.cosign"            # co-sign a trainee's note as their supervisor
    NOTE_READ_ANY_PATIENT = "note.read_any"  # notes of every patient, care team or not
    NOTE_SETTINGS = "note.settings"        # templates, trainees, emergency access rules
    PSYCHOTHERAPY_NOTE_WRITE = "psychotherapy_note.write"  # one's own psychotherapy notes
    PSYCHOTHERAPY_AUTHORIZATION = "psychotherapy_note.authorization"  # a patient's written one
    EMERGENCY_ACCESS = "emergency_access.open"    # break the glass on a patient outside one's team
    EMERGENCY_ACCESS_REVIEW = "emergency_access.review"  # the admin's review of each such access
    FHIR_BULK_EXPORT = "fhir.bulk_export"  # every patient's record of the clinic as FHIR files
    RESEARCH_EXPORT = "research.export"    # the de-identified research data set of the clinic
    EXPORT_SETTINGS = "export.settings"    # how long export files are kept, the research k and date shift


R = Role
CLINICAL = {R.PRESCRIBER, R.NURSE, R.THERAPIST, R.COORDINATOR}
STAFF = CLINICAL | {R.ADMIN, R.RESEARCHER}

# Minimum necessary: the clinic admin runs the clinic (users, audit) but reads no
# charts; researchers see de-identified data only (a later issue); patients use
# the portal (a later issue), never the clinician app.
MATRIX: dict[Action, frozenset[Role]] = {
    Action.SELF_VIEW: frozenset(STAFF | {R.PATIENT}),
    Action.PATIENT_LIST: frozenset(CLINICAL),
    Action.PATIENT_VIEW: frozenset(CLINICAL),
    Action.PATIENT_CREATE: frozenset({R.PRESCRIBER, R.COORDINATOR}),
    Action.PATIENT_EDIT: frozenset({R.PRESCRIBER, R.NURSE, R.COORDINATOR}),
    Action.AUDIT_VIEW: frozenset({R.ADMIN}),
    Action.PK_SIMULATE: frozenset({R.PRESCRIBER, R.NURSE, R.RESEARCHER}),
    Action.INTAKE_EDIT: frozenset({R.PRESCRIBER, R.NURSE, R.COORDINATOR}),
    Action.SCREENING_EVALUATE: frozenset({R.PRESCRIBER, R.NURSE, R.COORDINATOR}),
    Action.SCREENING_SIGNOFF: frozenset({R.PRESCRIBER}),
    Action.CONSENT_RECORD: frozenset({R.PRESCRIBER, R.NURSE, R.COORDINATOR}),
    Action.CONSENT_TEXT_EDIT: frozenset({R.ADMIN}),
    Action.PORTAL: frozenset({R.PATIENT}),
    Action.MEASURE_ENTER: frozenset({R.PRESCRIBER, R.NURSE, R.THERAPIST}),
    Action.MEASURE_SEND: frozenset({R.PRESCRIBER, R.NURSE, R.THERAPIST, R.COORDINATOR}),
    # The admin sees open alerts (not charts) because escalations are theirs to chase.
    Action.ALERT_VIEW: frozenset(CLINICAL | {R.ADMIN}),
    Action.MEASURE_SETTINGS: frozenset({R.ADMIN}),
    Action.ALERT_ACKNOWLEDGE: frozenset({R.PRESCRIBER, R.NURSE, R.THERAPIST}),
    Action.OUTBOX_VIEW: frozenset({R.ADMIN}),
    Action.DASHBOARD_VIEW: frozenset({R.PRESCRIBER, R.NURSE, R.THERAPIST}),
    # Outcome rules are a clinical choice (the prescriber) the admin also keeps in order.
    Action.OUTCOME_SETTINGS: frozenset({R.ADMIN, R.PRESCRIBER}),
    Action.EVENT_RECORD: frozenset({R.PRESCRIBER, R.NURSE, R.THERAPIST}),
    Action.SECURITY_SETTINGS: frozenset({R.ADMIN}),
    Action.USER_MANAGE: frozenset({R.ADMIN}),
    # Anyone may revoke their own tokens; which ones beyond that is accounts.tokens' scoping.
    Action.TOKEN_REVOKE: frozenset(STAFF | {R.PATIENT}),
    # Dosing sessions (issue 12). The prescriber and nurse run the session at the chair (the
    # reference: a trained healthcare professional supervises; a prescriber on site for
    # esketamine, sessions.md 1). The therapist prepares and integrates: sees the session and
    # writes the note of intention, but does not record vitals or doses. The coordinator
    # books sessions and sees the schedule (as they see charts). The admin and the researcher
    # read no health information (minimum necessary), so they have none of these.
    Action.SESSION_VIEW: frozenset(CLINICAL),
    Action.SESSION_SCHEDULE: frozenset({R.PRESCRIBER, R.NURSE, R.COORDINATOR}),
    Action.SESSION_RUN: frozenset({R.PRESCRIBER, R.NURSE}),
    Action.SESSION_INTENTION: frozenset({R.PRESCRIBER, R.NURSE, R.THERAPIST}),
    Action.DOSE_ADMINISTER: frozenset({R.PRESCRIBER, R.NURSE}),
    # a licensed clinician who could give the dose; a dose outside the protocol also needs a
    # prescriber as one of the two (clinical.md 5: prescriber override text)
    Action.DOSE_CONFIRM: frozenset({R.PRESCRIBER, R.NURSE}),
    # Protocol settings and monitoring thresholds are clinical choices (the prescriber) that
    # the admin keeps in order, as with the outcome rules; they hold no health information.
    Action.SESSION_SETTINGS: frozenset({R.ADMIN, R.PRESCRIBER}),
    Action.PROTOCOL_VIEW: frozenset(CLINICAL | {R.ADMIN}),
    # The visit codes CSV is for billing (payment): the MRN, date, drug, dose and code of each
    # session, no names or notes. The admin runs the clinic's office, billing included, so
    # this one export of health information is theirs; the prescriber is the billing provider
    # who supervises the sessions and answers for their codes. Nurses, therapists and the
    # coordinator do not bill; the researcher sees de-identified data only.
    Action.SESSION_VISIT_CODES: frozenset({R.ADMIN, R.PRESCRIBER}),
    # The controlled-substance ledger (issue 14). The prescriber holds the clinic's DEA
    # registration and answers for its records; the admin keeps them (the record of what
    # was bought, from whom, and where it is kept) and corrects a mistaken line, but handles
    # no drug. The nurse and the prescriber receive, draw, waste (and witness each other's
    # wastage: a different person of these roles), move and correct stock. The lot's ledger
    # names the patient of each dose by MRN (1304.22(c) asks for the person dosed), which
    # the admin sees as a record number only. Therapists, coordinators and the researcher
    # handle no controlled substance.
    Action.STOCK_VIEW: frozenset({R.ADMIN, R.PRESCRIBER, R.NURSE}),
    Action.STOCK_SETUP: frozenset({R.ADMIN, R.PRESCRIBER}),
    Action.STOCK_RECEIVE: frozenset({R.ADMIN, R.PRESCRIBER, R.NURSE}),
    Action.STOCK_ADMINISTER: frozenset({R.PRESCRIBER, R.NURSE}),
    Action.STOCK_WASTE: frozenset({R.PRESCRIBER, R.NURSE}),
    Action.STOCK_TRANSFER: frozenset({R.PRESCRIBER, R.NURSE}),
    # a nurse or prescriber reverses a draw or a move they recorded themselves; a receipt,
    # a wastage, an adjustment, a disposal or someone else's line is corrected only by those
    # who keep the stock records (STOCK_SETUP: the admin and the prescriber, who answers for
    # them), never by a nurse alone (inventory.actions.may_reverse)
    Action.STOCK_REVERSE: frozenset({R.ADMIN, R.PRESCRIBER, R.NURSE}),
    # those who handle the stock count it; a count that differs is the admin's to resolve
    Action.STOCK_COUNT: frozenset({R.PRESCRIBER, R.NURSE}),
    Action.STOCK_RESOLVE: frozenset({R.ADMIN}),
    # the witness rule and the retention and inventory presets are the admin's alone (a
    # prescriber could otherwise switch off the witness of their own wastage)
    Action.STOCK_SETTINGS: frozenset({R.ADMIN}),
    Action.STOCK_DISPOSE: frozenset({R.ADMIN, R.PRESCRIBER}),
    # whoever discovers a theft or loss records it: the one-business-day notice starts then
    Action.STOCK_REPORT_LOSS: frozenset({R.ADMIN, R.PRESCRIBER, R.NURSE}),
    Action.STOCK_REPORTS: frozenset({R.ADMIN, R.PRESCRIBER}),
    # Adverse events (issue 13): whoever cares for the patient records one (a therapist hears
    # of it at integration too); the prescriber reviews it, judges causality and reports an
    # esketamine event to the REMS; closing follows the review. The admin keeps the lists of
    # terms and reads the clinic's safety listing (counts, no names) with the prescriber.
    Action.ADVERSE_EVENT_RECORD: frozenset({R.PRESCRIBER, R.NURSE, R.THERAPIST}),
    Action.ADVERSE_EVENT_REVIEW: frozenset({R.PRESCRIBER}),
    Action.ADVERSE_EVENT_SETTINGS: frozenset({R.ADMIN}),
    Action.SAFETY_LISTING: frozenset({R.ADMIN, R.PRESCRIBER}),
    # Therapy notes (issue 13), minimum necessary: the chart is the clinical staff's, the notes
    # are read by the patient's care team only (accounts.scoping's second dimension). The
    # coordinator books and sees charts but reads no notes. No role reads every patient's
    # notes by default: a clinic whose medical director must adds the role here.
    Action.NOTE_READ: frozenset({R.PRESCRIBER, R.NURSE, R.THERAPIST}),
    Action.NOTE_WRITE: frozenset({R.PRESCRIBER, R.NURSE, R.THERAPIST}),
    Action.NOTE_COSIGN: frozenset({R.PRESCRIBER, R.THERAPIST}),
    Action.NOTE_READ_ANY_PATIENT: frozenset(),
    Action.NOTE_SETTINGS: frozenset({R.ADMIN}),
    # Psychotherapy notes (45 CFR 164.501) are written by the mental-health professionals who
    # hold the conversation: the therapist, and a psychiatrist prescriber who does therapy.
    # Only the author reads them, and whoever the patient authorises in writing (164.508).
    Action.PSYCHOTHERAPY_NOTE_WRITE: frozenset({R.PRESCRIBER, R.THERAPIST}),
    Action.PSYCHOTHERAPY_AUTHORIZATION: frozenset({R.PRESCRIBER, R.THERAPIST}),
    # Emergency access: a clinician outside the care team, with a reason; every one is audited
    # and reviewed by the admin (who reads the reason, not the record).
    Action.EMERGENCY_ACCESS: frozenset({R.PRESCRIBER, R.NURSE, R.THERAPIST}),
    Action.EMERGENCY_ACCESS_REVIEW: frozenset({R.ADMIN}),
    # A bulk export sends every patient's record to another system (an EHR, a registry): the
    # prescriber, who answers for the clinic's records, asks for it with an API token. The admin
    # reads no charts, and a whole-clinic copy is more than any other role needs.
    Action.FHIR_BULK_EXPORT: frozenset({R.PRESCRIBER}),
    # The researcher sees de-identified data only: the research data set (Safe Harbor, with its
    # disclosure check) is what this role is for.
    Action.RESEARCH_EXPORT: frozenset({R.RESEARCHER}),
    # What leaves the clinic, and how protected, is the admin's to keep (no health information).
    Action.EXPORT_SETTINGS: frozenset({R.ADMIN}),
}

# Actions that only read: an API token of scope "read" may perform these.
READ_ONLY_ACTIONS = frozenset(
    {Action.SELF_VIEW, Action.PATIENT_LIST, Action.PATIENT_VIEW, Action.AUDIT_VIEW,
     Action.PK_SIMULATE, Action.ALERT_VIEW, Action.OUTBOX_VIEW, Action.DASHBOARD_VIEW,
     Action.SESSION_VIEW, Action.PROTOCOL_VIEW, Action.SESSION_VISIT_CODES, Action.STOCK_VIEW,
     Action.STOCK_REPORTS, Action.SAFETY_LISTING, Action.FHIR_BULK_EXPORT}
)


def role_can(role: str | None, action: Action) -> bool:
    return role is not None and Role(role) in MATRIX[action]


class NotAuthenticated(Exception):
    """The request carries no logged-in user or valid token."""


def current_role(request: HttpRequest) -> str | None:
    membership = getattr(request, "membership", None)
    return membership.role if membership is not None else None


def check(request: HttpRequest, action: Action, *, during_mfa: bool = False) -> None:
    """Raise unless the request's user may perform ``action`` in its active clinic.

    A browser session that still owes its second factor raises ``MfaRequired``, except
    on the pages that take it (``during_mfa``); API tokens are their own credential.
    """
    if not request.user.is_authenticated:
        raise NotAuthenticated
    if not during_mfa and getattr(request, "api_token", None) is None:
        from kapclinic.accounts import mfa

        step = mfa.pending_step(request)
        if step is not None:
            raise mfa.MfaRequired(step)
    if not role_can(current_role(request), action):
        deny(request, action.value, "role")
        raise PermissionDenied(f"Your role may not perform {action.value}.")
    token = getattr(request, "api_token", None)
    if token is not None and token.scope == "read" and action not in READ_ONLY_ACTIONS:
        deny(request, action.value, "read-only token")
        raise PermissionDenied("This API token is read-only; create one with --scope write.")


def deny(request: HttpRequest, what: str, reason: str) -> None:
    """Write a refusal to the audit trail: who (with role and clinic, from the request's
    actor), what they asked for, and where, without the query string (it may hold search
    terms). Every permission refusal goes through here."""
    from kapclinic.audit import trail

    trail.record("denied", object_type="permission", object_id=what[:64],
                 detail={"reason": reason, "method": request.method, "path": request.path})


def require(action: Action, *, during_mfa: bool = False
            ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a page view (or API operation) with the action it performs.
    ``during_mfa``: the page takes the second factor, so it opens before it is given."""
    from kapclinic.accounts import mfa

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                check(request, action, during_mfa=during_mfa)
            except NotAuthenticated:
                if getattr(request, "is_api", False):
                    raise
                if request.headers.get("HX-Request"):
                    return _logged_out_partial(request)
                return redirect_to_login(request.get_full_path())
            except mfa.MfaRequired as pending:
                if getattr(request, "is_api", False):
                    raise
                target = "mfa-verify" if pending.step == mfa.VERIFY else "mfa-enrol"
                if request.headers.get("HX-Request"):
                    # a partial: send the whole page there, and back to the page after
                    back = urlsplit(request.headers.get("HX-Current-URL", "/")).path or "/"
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = f"{reverse(target)}?{urlencode({'next': back})}"
                    return response
                return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
            return view(request, *args, **kwargs)

        wrapper.required_action = action  # type: ignore[attr-defined]
        return wrapper

    return decorator


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view that needs no login (login page, health check)."""
    view.required_action = None  # type: ignore[attr-defined]
    return view


def _logged_out_partial(request: HttpRequest) -> HttpResponse:
    """What a page's htmx request (an autosave, a poll) gets once the login has ended: words in
    its place, never the login page swapped into it, and no navigation away from what the
    person typed (401; base.html lets htmx show it)."""
    back = urlsplit(request.headers.get("HX-Current-URL", "/")).path or "/"
    login = f"{reverse('login')}?{urlencode({'next': back})}"
    return HttpResponse(
        '<span class="autosave error" role="alert">Not saved or updated: your login has ended. '
        f'Copy anything you typed, then <a href="{escape(login)}">log in again</a>.</span>', status=401)
