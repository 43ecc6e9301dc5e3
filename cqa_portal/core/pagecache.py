"""Whole-page cache of anonymous public pages, shared by every process (the one way to do it).

A public page that is the same for every anonymous visitor except the CSRF token of its forms is
rendered once per namespace versions, language, path and query string, with a placeholder where
the token goes, stored in the shared cache (Redis in production), and served from there by any
process with the visitor's own token put in (which also sets the visitor's CSRF cookie, as
rendering would).

Use, in the view::

    @pagecache.page("courses")              # or page("pledges", "surveys") for several
    def schedule(request): ...

or ``serve(request, render, namespace=…)`` where ``render(csrf_token)`` returns the response.
While a page is rendered for the cache, the ``csrf_token`` of every template is the placeholder
(``context`` below is a template context processor), so views need nothing else. Every service
that changes what a namespace's pages show calls ``bump(namespace)``.

Exactness: each request reads the current versions of its namespaces from the shared cache (one
round trip for all of them) and serves a stored page only if it was rendered at exactly those
versions, so a change is visible on the next request to any process. ``bump()`` moves the
version at once and again after commit: a page rendered between the two (from data about to
change) is dropped by the second. Changes nobody bumps for (time passing: a session starting, a
publication date arriving) show within the page's lifetime (60 seconds by default).

What is never cached: logged-in visitors, visitors with a session or flash messages, non-GET
requests, pages that are not a plain 200, responses that set cookies or queued a message while
rendering, and pages whose rendering used a real CSRF token. A cache error is never fatal: the
page is rendered as if there were no cache.

The placeholder is the same in every process (each gunicorn worker must recognise a page another
worker rendered) yet cannot be guessed: it is derived from SECRET_KEY. So a visitor can never
post it as a token, and no page content can contain it by accident. The key also carries a hash
of the static-files manifest, so pages naming static files of an earlier release are not served
after a deploy.
"""

import functools
import hashlib
import logging
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.db import transaction
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils.crypto import salted_hmac
from django.utils.translation import get_language

logger = logging.getLogger(__name__)

LIFETIME = 60  # seconds
MAX_QUERY = 512  # longer query strings are rendered, not cached
_LOCAL_MAX = 128
_RENDERING = "_pagecache_placeholder"

# This process's last served pages: {key: (versions, expires_at, html)}. Saves fetching the page
# from the shared cache when its versions have not moved.
_local: dict[str, tuple[tuple, float, bytes]] = {}
_release_memo: list[str] = []


def placeholder() -> str:
    """What stands for the CSRF token in a cached page: identical in every process of the
    portal (derived from SECRET_KEY), unguessable without it, and unlike any real token."""
    digest = salted_hmac("cqa_portal.core.pagecache.csrf-placeholder", "v1").hexdigest()
    return f"pagecache-csrf-{digest[:32]}"


def context(request) -> dict:
    """Template context processor: the placeholder as ``csrf_token`` while rendering for the
    cache (otherwise nothing, and Django's own token applies)."""
    token = getattr(request, _RENDERING, None)
    return {"csrf_token": token} if token else {}


def _release() -> str:
    """Which static files the pages name: a hash of collectstatic's manifest (if any)."""
    if not _release_memo:
        manifest = Path(settings.STATIC_ROOT or ".") / "staticfiles.json"
        try:
            _release_memo.append(hashlib.sha256(manifest.read_bytes()).hexdigest()[:12])
        except OSError:
            _release_memo.append("dev")
    return _release_memo[0]


def _settings_changed(**kwargs) -> None:
    """Tests that change a setting get pages rendered with it (settings are fixed otherwise)."""
    release = _release()
    reset()
    _release_memo.append(f"{release}-{time.time_ns()}")


setting_changed.connect(_settings_changed)


def _version_key(namespace: str) -> str:
    return f"pagecache:{namespace}:version"


def _page_key(namespaces: tuple[str, ...], language: str, where: str) -> str:
    digest = hashlib.sha256(where.encode()).hexdigest()[:32]
    return f"pagecache:{'+'.join(namespaces)}:page:{_release()}:{language}:{digest}"


def _versions(namespaces: tuple[str, ...]) -> tuple:
    """The current version of each namespace, in one round trip."""
    keys = [_version_key(n) for n in namespaces]
    found = cache.get_many(keys)
    for key in keys:
        if found.get(key) is None:
            # Never reuse a number after eviction: start from the clock.
            cache.add(key, time.time_ns(), timeout=None)
            found[key] = cache.get(key)
    return tuple(found[key] for key in keys)


def _incr(namespace: str) -> None:
    key = _version_key(namespace)
    try:
        try:
            cache.incr(key)
        except ValueError:  # evicted: a fresh number from the clock
            cache.add(key, time.time_ns(), timeout=None)
    except Exception:  # noqa: BLE001 - cache down: nothing is served from it either
        logger.warning("page cache %s: version not bumped", namespace, exc_info=True)


def bump(namespace: str) -> None:
    """What the namespace's cached pages show has changed (call it from the service).

    Bumped at once and again after commit: a visitor rendering a page between the two may
    cache what is about to change, and the second bump drops that copy.
    """
    _incr(namespace)
    transaction.on_commit(lambda: _incr(namespace), robust=True)


def reset() -> None:
    """Forget this process's copies (tests clear the shared cache between cases)."""
    _local.clear()
    _release_memo.clear()


def cacheable(request) -> bool:
    if request.method != "GET" or len(request.META.get("QUERY_STRING", "")) > MAX_QUERY:
        return False
    if settings.SESSION_COOKIE_NAME in request.COOKIES or "messages" in request.COOKIES:
        return False
    return not request.user.is_authenticated


def _fill(page: bytes, request) -> bytes:
    """The visitor's own token in place of the placeholder (and their CSRF cookie set)."""
    return page.replace(placeholder().encode(), get_token(request).encode())


def _storable(request, response, token_used_before: bool) -> bool:
    if response.status_code != 200 or response.cookies or response.streaming:
        return False
    if not token_used_before and request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return False  # something rendered a real token: it must not be shown to others
    storage = getattr(request, "_messages", None)
    return not (storage is not None and getattr(storage, "added_new", False))


def _render_for_cache(request, render):
    token_used_before = bool(request.META.get("CSRF_COOKIE_NEEDS_UPDATE"))
    setattr(request, _RENDERING, placeholder())
    try:
        response = render(placeholder())
        if hasattr(response, "render") and not getattr(response, "is_rendered", True):
            response.render()
    finally:
        delattr(request, _RENDERING)
    return response, _storable(request, response, token_used_before)


def serve(request, render, *, namespace: str | tuple[str, ...], lifetime: int = LIFETIME):
    """``render(csrf_token)`` returns the page's response; cached when it is a plain 200."""
    if not cacheable(request) or getattr(cache, "is_down", False):
        return render(None)  # (the fail-soft cache is down: every visit rendered afresh)
    namespaces = (namespace,) if isinstance(namespace, str) else tuple(namespace)
    language = get_language() or settings.LANGUAGE_CODE
    where = f"{request.path}?{request.META.get('QUERY_STRING', '')}"
    now = time.time()
    try:
        key = _page_key(namespaces, language, where)
        versions = _versions(namespaces)
        if None in versions:  # the cache answered as if empty (down): render, store nothing
            return render(None)
        stored = _local.get(key)
        if stored is None or stored[0] != versions or stored[1] <= now:
            stored = cache.get(key)
    except Exception:  # noqa: BLE001 - cache down: render as if uncached
        logger.warning("page cache %s unavailable", namespace, exc_info=True)
        return render(None)
    if stored is not None and stored[0] == versions and stored[1] > now:
        page = stored[2]
    else:
        response, storable = _render_for_cache(request, render)
        if not storable:
            if not response.streaming and placeholder().encode() in response.content:
                response.content = _fill(response.content, request)
            return response
        page = response.content
        stored = (versions, now + lifetime, page)
        try:
            cache.set(key, stored, timeout=lifetime)
        except Exception:  # noqa: BLE001
            logger.warning("page cache %s: page not stored", namespace, exc_info=True)
    if len(_local) >= _LOCAL_MAX:
        _local.clear()
    _local[key] = stored
    return HttpResponse(_fill(page, request))


def rows(items: list, render, *, namespace: str, name: str, vary, lifetime: int = LIFETIME):
    """The HTML of each list row, rendered once for everyone: ``render(item)`` returns a row's
    HTML (the same for every visitor: no token, nothing personal), ``vary(item)`` what the row
    depends on besides the namespace's data and the language (e.g. its pk). Checked against the
    namespace's version like pages (one round trip for the version, one for every row), so
    member pages that list the same rows as a public page do no per-row template work."""
    language = get_language() or settings.LANGUAGE_CODE
    keys = [f"pagecache:{namespace}:row:{name}:{language}:{vary(item)}" for item in items]
    try:
        versions = _versions((namespace,))
        found = cache.get_many(keys) if keys and None not in versions else {}
    except Exception:  # noqa: BLE001 - cache down: render every row
        logger.warning("page cache %s unavailable", namespace, exc_info=True)
        return [render(item) for item in items]
    if None in versions:
        return [render(item) for item in items]
    out, missing = [], {}
    for item, key in zip(items, keys, strict=True):
        stored = found.get(key)
        if stored is not None and stored[0] == versions:
            out.append(stored[1])
        else:
            html = render(item)
            out.append(html)
            missing[key] = (versions, str(html))
    if missing:
        try:
            cache.set_many(missing, timeout=lifetime)
        except Exception:  # noqa: BLE001
            logger.warning("page cache %s: rows not stored", namespace, exc_info=True)
    return out


def page(*namespaces: str, lifetime: int = LIFETIME):
    """View decorator: anonymous GETs of the view served through ``serve``."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            return serve(
                request,
                lambda _token: view(request, *args, **kwargs),
                namespace=namespaces,
                lifetime=lifetime,
            )

        return wrapper

    return decorate
