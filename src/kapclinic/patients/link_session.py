"""A patient link's token leaves the address bar after the first request.

The link a patient receives (/r/intake/<token>/, /r/measure/<token>/) is exchanged for an
entry in this browser's session (the link's id, never its token) and the browser is sent
on to a token-free page (/r/intake/, /r/measure/), as Django's PasswordResetConfirmView
does for set-password links. So the token is not in browser history, in the Referer of
the page's own requests, nor in its forms or autosave calls; a server log never sees it
again after the first request (and redacts that one, platform/access_log.py).

Every page of a link is sent with ``Referrer-Policy: no-referrer`` (``no_referrer``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from kapclinic.audit import context
from kapclinic.patients import links
from kapclinic.patients.models import PatientLink
from kapclinic.platform.referrer import no_referrer

__all__ = ["current", "exchange", "forget", "no_referrer"]

SESSION_KEY = "patient_link_{purpose}"


def _key(purpose: str) -> str:
    return SESSION_KEY.format(purpose=purpose)


def _entered(request: HttpRequest, link: PatientLink) -> PatientLink:
    """The request acts as the link: the audit trail names it, times show in its clinic's zone
    (and the page's footer names that zone: ``request.page_clinic``)."""
    context.set_link_actor(link.pk, link.patient.clinic_id)
    timezone.activate(link.patient.clinic.zone)
    request.page_clinic = link.patient.clinic
    return link


def exchange(request: HttpRequest, token: str, purpose: str) -> PatientLink | None:
    """The link this token opens, now held by this browser's session; None (and nothing
    held) if the token is unknown, or the link is used or expired and this session did not
    answer it (only the browser that answered it may be shown its answer again)."""
    link = links.find_link(token, purpose)
    if link is None:
        return None
    held = request.session.get(_key(purpose))
    if not link.is_open and (held is None or held.get("link") != link.pk):
        forget(request, purpose)
        return None
    if held is None or held.get("link") != link.pk:
        if request.user.is_anonymous:
            request.session.cycle_key()  # a session planted before the link cannot ride it
        request.session[_key(purpose)] = {"link": link.pk}
    return _entered(request, link)


def current(request: HttpRequest, purpose: str) -> PatientLink | None:
    """The link this browser's session holds for ``purpose``, open or not (None if none)."""
    held = request.session.get(_key(purpose))
    if not held:
        return None
    link = (PatientLink.objects.select_related("patient", "patient__clinic")
            .filter(pk=held.get("link"), purpose=purpose).first())
    if link is None:
        forget(request, purpose)
        return None
    return _entered(request, link)


def forget(request: HttpRequest, purpose: str) -> None:
    """This browser holds the link no more; the page it gets then names no clinic."""
    request.session.pop(_key(purpose), None)
    request.__dict__.pop("page_clinic", None)


def arrive(request: HttpRequest, token: str, purpose: str, *,
           answer: Callable[[PatientLink], HttpResponse], closed: Callable[[], HttpResponse],
           page: str) -> HttpResponse:
    """The link as sent: its token goes into this browser's session and the browser on to the
    token-free ``page``; a POST from a page opened before the exchange is still ``answer``ed."""
    link = exchange(request, token, purpose)
    if link is None:
        return closed()
    if request.method == "POST":
        return answer(link)
    if not link.is_open:
        forget(request, purpose)
        return closed()
    return redirect(page)

