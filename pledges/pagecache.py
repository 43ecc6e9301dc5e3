"""Whole-page cache of the open letter for anonymous first-time visitors.

The open letter is the programme's most visited page and the same for every anonymous visitor
except the CSRF token of its forms. It is rendered once per language and content version with a
placeholder for the token, and served from the cache with the visitor's own token put in.

Exactness: the counts come from ``SignatureTally``, which is exact. Every service that changes
what the page shows (confirming, withdrawing, hiding, signing for a company, recounting,
publishing, staff edits) calls ``bump()``, which moves the shared version in the cache, so the
page is rendered again. Each process reads that version at most once a second (a cached visit
then costs no network round trip), so a change shows at once in the process that made it and
within a second everywhere else. A 60-second lifetime also covers letters whose publication date
arrives while nothing else changes. Logged-in visitors, visitors
with a session or flash messages, and requests with a query string are always rendered afresh.
A cache outage only means rendering every time.
"""

import logging
import secrets
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils.translation import get_language

logger = logging.getLogger(__name__)

VERSION_KEY = "pledges:pages:version"
LIFETIME = 60  # seconds
VERSION_TTL = 1.0  # seconds; how late another process's change may show
# Random per process start, so a forged token can never be the placeholder.
PLACEHOLDER = "pledges-csrf-" + secrets.token_hex(16)
_PLACEHOLDER_BYTES = PLACEHOLDER.encode()


# The version as this process last read it, and when: re-read at most once a second, so a
# cached visit costs no network round trip. Changes made in this process reset it at once.
_seen: list = [None, 0.0]


def _remote() -> bool:
    """In-process caches (development, tests) are read every time: that costs nothing."""
    return not isinstance(caches["default"], LocMemCache)


def _version() -> int:
    now = time.monotonic()
    if _seen[0] is not None and now - _seen[1] < VERSION_TTL and _remote():
        return _seen[0]
    version = cache.get(VERSION_KEY)
    if version is None:
        # Never reuse a number after eviction: start from the clock.
        cache.add(VERSION_KEY, time.time_ns(), timeout=None)
        version = cache.get(VERSION_KEY)
    _seen[:] = [version, now]
    return version


def _incr() -> None:
    _seen[:] = [None, 0.0]
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.add(VERSION_KEY, time.time_ns(), timeout=None)
    except Exception:  # noqa: BLE001 - cache down: pages expire within LIFETIME anyway
        logger.warning("pledges page cache: version not bumped", exc_info=True)


def reset() -> None:
    """Forget this process's copies (tests clear the cache between cases)."""
    _seen[:] = [None, 0.0]
    _local.clear()


def bump() -> None:
    """What the cached pages show has changed.

    Bumped at once and again after commit: a visitor rendering the page between the two may
    cache what is about to change, and the second bump drops that copy.
    """
    _incr()
    transaction.on_commit(_incr, robust=True)


def cacheable(request) -> bool:
    if request.method != "GET" or request.GET:
        return False
    if settings.SESSION_COOKIE_NAME in request.COOKIES or "messages" in request.COOKIES:
        return False
    return not request.user.is_authenticated


# This process's last rendered pages: {(language, path): (version, html)}. Saves fetching and
# unpickling the page from the cache when the version has not moved.
_local: dict[tuple[str, str], tuple[int, bytes]] = {}
_LOCAL_MAX = 64


def serve(request, render):
    """``render(csrf_token)`` returns the page's response; cached when it is a plain 200."""
    if not cacheable(request):
        return render(None)
    where = (get_language(), request.path)
    try:
        version = _version()
        memo = _local.get(where)
        if memo is not None and memo[0] == version:
            page = memo[1]
        else:
            key = f"pledges:page:{version}:{where[0]}:{where[1]}"
            page = cache.get(key)
    except Exception:  # noqa: BLE001 - cache down: render as if uncached
        logger.warning("pledges page cache unavailable", exc_info=True)
        return render(None)
    if page is None:
        response = render(PLACEHOLDER)
        page = response.content
        if response.status_code != 200:
            response.content = page.replace(_PLACEHOLDER_BYTES, get_token(request).encode())
            return response
        try:
            cache.set(key, page, timeout=LIFETIME)
        except Exception:  # noqa: BLE001
            logger.warning("pledges page cache: page not stored", exc_info=True)
    if len(_local) >= _LOCAL_MAX:
        _local.clear()
    _local[where] = (version, page)
    return HttpResponse(page.replace(_PLACEHOLDER_BYTES, get_token(request).encode()))
