"""The address of the person making a request, as login lockout (django-axes) counts it.

Behind a reverse proxy every request arrives from the proxy's address, so counting failed
logins by REMOTE_ADDR lets anyone who shares the proxy lock a named account for everyone.
The proxies listed in KAPCLINIC_TRUSTED_PROXIES (settings.KAPCLINIC_TRUSTED_PROXIES) are
believed: the client is the right-most X-Forwarded-For address that is not one of them
(each proxy appends the address it saw, so what a client writes itself sits further left
and is never used). Without the setting X-Forwarded-For is ignored.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address, proxies) -> bool:
    return address is not None and any(address in network for network in proxies)


def client_address(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind trusted proxies the first address in
    X-Forwarded-For, read from the right, that is not a trusted proxy."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "KAPCLINIC_TRUSTED_PROXIES", ())
    here = _address(remote)
    if not _trusted(here, proxies):
        return remote or None
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:  # a garbled hop: the last proxy's view is all that can be trusted
            return remote
        if not _trusted(address, proxies):
            return str(address)
    return remote  # only proxies in the chain (a health check from the proxy itself)
