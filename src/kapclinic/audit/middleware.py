"""Give each request an id (echoed in X-Request-ID) and note the client address."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from kapclinic.audit import context
from kapclinic.platform import client_ip

SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if SAFE_REQUEST_ID.match(incoming) else context.new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        # The person's own address: REMOTE_ADDR, or behind KAPCLINIC_TRUSTED_PROXIES the
        # forwarded one (the same address login lockout and rate limits count).
        token = context.start_request(client_ip.client_address(request) or "", request_id)
        try:
            response = self.get_response(request)
        finally:
            context.end_request(token)
        response["X-Request-ID"] = request_id
        return response
