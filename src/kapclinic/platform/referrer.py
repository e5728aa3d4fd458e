"""Pages whose address is a secret (a patient link, a set-password link) tell nobody where
they came from: not another site, and not the server's own asset requests (whose Referer a
log keeps). The rest of the site sends ``same-origin`` (settings.SECURE_REFERRER_POLICY).

Only responses to a GET of a secret address are sent ``no-referrer``; those are a redirect
to a token-free address or a page without a form. A page holding a form must not be sent
``no-referrer``: the browser then posts it with ``Origin: null``, which Django's CSRF check
refuses ("That form had expired").
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse

from kapclinic.platform.access_log import PLACEHOLDER, redact


def holds_secret(path: str) -> bool:
    """True if this address holds a link token or a set-password token (what logs redact).
    Django's set-password form page (the token replaced by its placeholder) holds none."""
    if path.rstrip("/").endswith("/" + PLACEHOLDER):
        return False
    return redact(path) != path


def no_referrer(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The view's answers to a GET of a secret address carry ``Referrer-Policy: no-referrer``."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if request.method in ("GET", "HEAD") and holds_secret(request.path):
            response["Referrer-Policy"] = "no-referrer"
        return response

    return wrapped
