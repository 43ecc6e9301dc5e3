"""Whole-page cache of public pages for anonymous first-time visitors, shared by every process.

A public page that is the same for every anonymous visitor except the CSRF token of its forms
(the open letter, the programme's most visited page) is rendered once per namespace, content
version, language and path with a placeholder where the token goes, stored in the shared cache
(Redis in production), and served from there by any process with the visitor's own token put in
(which also sets the visitor's CSRF cookie, as rendering would).

The placeholder is the same in every process (each gunicorn worker must recognise a page another
worker rendered) yet cannot be guessed: it is derived from SECRET_KEY. So a visitor can never
post it as a token, and no page content can contain it by accident.

Use: ``serve(request, render, namespace="pledges")`` in the view, where ``render(csrf_token)``
returns the page's response (put ``csrf_token`` in the template context when it is not None);
``bump("pledges")`` from every service that changes what the namespace's pages show.

Exactness: ``bump()`` moves the namespace's shared version in the cache, so its pages are rendered
again. Each process reads that version at most once a second (a cached visit then costs no network
round trip), so a change shows at once in the process that made it and within a second everywhere
else. A lifetime (60 seconds by default) also covers changes nobody bumps for (e.g. a publication
date arriving). Logged-in visitors, visitors with a session or flash messages, requests with a
query string and non-GET requests are always rendered afresh; so are pages that are not a plain
200. A cache outage only means rendering every time.
"""

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils.crypto import salted_hmac
from django.utils.translation import get_language

logger = logging.getLogger(__name__)

LIFETIME = 60  # seconds
VERSION_TTL = 1.0  # seconds; how late another process's change may show
_LOCAL_MAX = 64

# The version of each namespace as this process last read it, and when: re-read at most once a
# second. Changes made in this process forget it at once.
_seen: dict[str, tuple[int, float]] = {}
# This process's last served pages: {(namespace, language, path): (version, html)}. Saves
# fetching and unpickling the page from the cache when the version has not moved.
_local: dict[tuple[str, str, str], tuple[int, bytes]] = {}


def placeholder() -> str:
    """What stands for the CSRF token in a cached page: identical in every process of the
    portal (derived from SECRET_KEY), unguessable without it, and unlike any real token."""
    digest = salted_hmac("cqa_portal.core.pagecache.csrf-placeholder", "v1").hexdigest()
    return f"pagecache-csrf-{digest[:32]}"


def _version_key(namespace: str) -> str:
    return f"pagecache:{namespace}:version"


def _page_key(namespace: str, version: int, language: str, path: str) -> str:
    where = hashlib.sha256(path.encode()).hexdigest()[:32]
    return f"pagecache:{namespace}:page:{version}:{language}:{where}"


def _remote() -> bool:
    """In-process caches (development, tests) are read every time: that costs nothing."""
    return not isinstance(caches["default"], LocMemCache)


def _version(namespace: str) -> int:
    now = time.monotonic()
    seen = _seen.get(namespace)
    if seen is not None and now - seen[1] < VERSION_TTL and _remote():
        return seen[0]
    key = _version_key(namespace)
    version = cache.get(key)
    if version is None:
        # Never reuse a number after eviction: start from the clock.
        cache.add(key, time.time_ns(), timeout=None)
        version = cache.get(key)
    _seen[namespace] = (version, now)
    return version


def _incr(namespace: str) -> None:
    _seen.pop(namespace, None)
    key = _version_key(namespace)
    try:
        cache.incr(key)
    except ValueError:
        cache.add(key, time.time_ns(), timeout=None)
    except Exception:  # noqa: BLE001 - cache down: pages expire within their lifetime anyway
        logger.warning("page cache %s: version not bumped", namespace, exc_info=True)


def bump(namespace: str) -> None:
    """What the namespace's cached pages show has changed.

    Bumped at once and again after commit: a visitor rendering a page between the two may
    cache what is about to change, and the second bump drops that copy.
    """
    _incr(namespace)
    transaction.on_commit(lambda: _incr(namespace), robust=True)


def reset() -> None:
    """Forget this process's copies (tests clear the shared cache between cases)."""
    _seen.clear()
    _local.clear()


def cacheable(request) -> bool:
    if request.method != "GET" or request.GET:
        return False
    if settings.SESSION_COOKIE_NAME in request.COOKIES or "messages" in request.COOKIES:
        return False
    return not request.user.is_authenticated


def _fill(page: bytes, request) -> bytes:
    """The visitor's own token in place of the placeholder (and their CSRF cookie set)."""
    return page.replace(placeholder().encode(), get_token(request).encode())


def serve(request, render, *, namespace: str, lifetime: int = LIFETIME):
    """``render(csrf_token)`` returns the page's response; cached when it is a plain 200."""
    if not cacheable(request) or getattr(cache, "is_down", False):
        return render(None)  # (the fail-soft cache is down: every visit rendered afresh)
    language, path = get_language() or settings.LANGUAGE_CODE, request.path
    where = (namespace, language, path)
    try:
        version = _version(namespace)
        key = _page_key(namespace, version, language, path)
        memo = _local.get(where)
        page = memo[1] if memo is not None and memo[0] == version else cache.get(key)
    except Exception:  # noqa: BLE001 - cache down: render as if uncached
        logger.warning("page cache %s unavailable", namespace, exc_info=True)
        return render(None)
    if page is None:
        response = render(placeholder())
        if response.status_code != 200 or response.cookies:
            response.content = _fill(response.content, request)
            return response
        page = response.content
        try:
            cache.set(key, page, timeout=lifetime)
        except Exception:  # noqa: BLE001
            logger.warning("page cache %s: page not stored", namespace, exc_info=True)
    if len(_local) >= _LOCAL_MAX:
        _local.clear()
    _local[where] = (version, page)
    return HttpResponse(_fill(page, request))
