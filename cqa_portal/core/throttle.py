"""Per-client throttle for public forms that never stores an IP address: only a keyed hash.

The client is ``clientip.client_network`` (proxy-aware only as far as ``TRUSTED_PROXY_COUNT``
says). Use: ``allow(scope="pledges.sign", key=ip_hash(request), rate=(20, 3600))``.
"""

import logging
import time

from django.core.cache import cache
from django.utils.crypto import salted_hmac

from .clientip import client_network

logger = logging.getLogger(__name__)


def ip_hash(request) -> str:
    """Salted one-way hash (HMAC with SECRET_KEY) of the client's address."""
    return salted_hmac(
        "cqa_portal.core.client-ip", client_network(request), algorithm="sha256"
    ).hexdigest()


def allow(*, scope: str, key: str, rate: tuple[int, int]) -> bool:
    """Count one request in a fixed window; False once the limit is passed.

    A cache outage lets the request through (logged): the throttle protects, it must not
    take the form down with it.
    """
    limit, window = rate
    bucket = int(time.time() // window)
    cache_key = f"throttle:{scope}:{key}:{bucket}"
    try:
        cache.add(cache_key, 0, timeout=window + 5)
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window + 5)
        count = 1
    except Exception:  # noqa: BLE001 - cache down: fail open, loudly
        logger.warning("throttle %s: cache unavailable, request allowed", scope, exc_info=True)
        return True
    return count <= limit
