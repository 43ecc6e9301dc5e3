"""The client's address, as far as the portal can trust it: one rule for allauth and every throttle.

Behind ``TRUSTED_PROXY_COUNT`` reverse proxies (setting, default 0), each proxy appends the
address it received the request from to ``X-Forwarded-For``; the client is the Nth address from
the right. Anything further left was written by the client and is ignored, so a forged header
never gives a fresh throttle bucket. With 0 (no proxy) the header is ignored altogether and
``REMOTE_ADDR`` is the client.
"""

import ipaddress

from django.conf import settings


def _clean(value: str) -> str | None:
    """A valid IP address from ``1.2.3.4``, ``1.2.3.4:5678``, ``::1`` or ``[::1]:5678``."""
    value = (value or "").strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The client's IP address, or None when not even ``REMOTE_ADDR`` holds one."""
    count = int(settings.TRUSTED_PROXY_COUNT or 0)
    if count > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if forwarded:
            # Fewer entries than proxies: every entry was written by a trusted proxy, and the
            # leftmost is the farthest address one of them saw.
            ip = _clean(forwarded[-min(count, len(forwarded))])
            if ip:
                return ip
    return _clean(request.META.get("REMOTE_ADDR", ""))


def client_network(request) -> str:
    """What a throttle counts by: the address, or its /64 for IPv6 (one subscriber's block, as
    allauth's rate limits do); ``unknown`` when there is no address at all."""
    ip = client_ip(request)
    if ip is None:
        return "unknown"
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False).network_address)
    return ip
