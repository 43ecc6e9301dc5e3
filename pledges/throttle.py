"""Per-IP throttle that never stores an IP address: only an HMAC of it keyed with SECRET_KEY."""

import logging
import time

from allauth.account.adapter import get_adapter
from django.core.cache import cache
from django.utils.crypto import salted_hmac

logger = logging.getLogger(__name__)


def ip_hash(request) -> str:
    """Salted one-way hash of the client's address (allauth's proxy-aware client IP)."""
    ip = get_adapter(request).get_client_ip(request)
    return salted_hmac("pledges.client-ip", ip, algorithm="sha256").hexdigest()


def allow(*, scope: str, key: str, rate: tuple[int, int]) -> bool:
    """Count one request in a fixed window; False once the limit is passed.

    A cache outage lets the request through (logged): the throttle protects, it must not
    take the form down with it.
    """
    limit, window = rate
    bucket = int(time.time() // window)
    cache_key = f"pledges:throttle:{scope}:{key}:{bucket}"
    try:
        cache.add(cache_key, 0, timeout=window + 5)
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window + 5)
        count = 1
    except Exception:  # noqa: BLE001 - cache down: fail open, loudly
        logger.warning("pledges throttle: cache unavailable, request allowed", exc_info=True)
        return True
    return count <= limit
