"""Whole-page cache of public and member pages, shared by every process (the one way to do it).

A page is rendered once and served from the shared cache (Redis in production) by any process
until something it was made from changes. What it was made from is recorded, not declared:
while a page is rendered for the cache, every SQL statement it runs is observed and the tables
it reads are stored with the page, each with its version at the time. Every statement that
writes a table (INSERT, UPDATE, DELETE, TRUNCATE, through any Django connection, in any
process: requests, admin, imports, Celery tasks, commands) gives the table a new version, once
at once and again when the transaction commits. A stored page is served only while every table
it read still has the version it had when rendering began, so a change made anywhere is visible
on the next request to any process; no service has to remember to invalidate anything.

Use, in the view::

    @pagecache.page()          # outermost, above login_required and the access decorators
    def schedule(request): ...

or ``serve(request, render)`` where ``render(csrf_token)`` returns the response.

Who shares a copy: anonymous visitors (no session) share one per language, path and query
string. A signed-in person gets copies of their own (the key holds their user id; the user
table is always a dependency, so their name, e-mail or staff flag showing in the layout is
never stale). Access checks inside the view are part of what is cached: a page is stored only
for a person the view answered 200 for, and any change to the rows the check read (a
membership removed, a company suspended) is a write to a table the page depends on.

The CSRF token of the page's forms: while a page is rendered for the cache, ``csrf_token`` is a
placeholder (``context`` below is a template context processor); each visitor gets the page
with their own masked token put in, and their CSRF cookie set, as rendering would. The
placeholder is the same in every process yet cannot be guessed (derived from SECRET_KEY).

Reading versions costs nothing per request in production: each process subscribes to a Redis
channel on which every new version is published, keeps the versions it has seen, and drains the
channel (a non-blocking read of its own socket) before each lookup. A process whose subscription
is not confirmed or has failed reads the versions from Redis instead (one round trip), as does a
process on a cache that has no channel (the embedded default's local memory).

Bounds: what changes without a write (time passing: a session starting, a survey closing, a
publication date arriving) shows within the page's lifetime (``LIFETIME``, 60 seconds). Writes
that bypass Django's cursors (``COPY``, another program) are not seen until then either.

What is never cached: non-GET requests, long query strings, anonymous visitors with a session
cookie, pending flash messages, responses that are not a plain 200, set cookies or are
streamed, pages whose rendering queued a message, used a real CSRF token or read a table of
``UNWATCHED_MODELS`` (the outbox, sessions: written all the time, never shown). A cache error is
never fatal: the page is rendered as if there were no cache. The key carries a hash of the
static-files manifest, so pages naming static files of an earlier release are not served after
a deploy.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import logging
import os
import re
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.db.backends.signals import connection_created
from django.http import HttpResponse
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
from django.utils.crypto import salted_hmac
from django.utils.translation import get_language

from .cache import OUTAGE

logger = logging.getLogger(__name__)

LIFETIME = 60  # seconds
MAX_QUERY = 512  # longer query strings are rendered, not cached
_LOCAL_MAX = 256
_RENDERING = "_pagecache_placeholder"
_WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "MERGE", "REPLACE")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_WITH_WRITE = re.compile(r"\b(INSERT|DELETE|MERGE)\b|(?<!FOR )\bUPDATE\b", re.IGNORECASE)

# This process's copies of stored pages: {key: _Entry}. Saves fetching a page from the shared
# cache while its tables have not moved.
_local: dict[str, tuple] = {}
_memos: dict[str, tuple] = {}  # see memo()
_MEMO_MAX = 4096
# The tables each view was seen to read (learned on the first render in this process).
_learned: dict[str, frozenset] = {}
_memo: dict[str, object] = {}
# Tables observed while rendering a page for the cache (None: not rendering).
_reading: contextvars.ContextVar[set | None] = contextvars.ContextVar("pagecache_reading")
_renders = [0]  # pages rendered for the cache by this process (see _note_write)
_generation = [0]  # bumped by reset(): every thread forgets its versions
_thread = threading.local()


# --- what a page is made of: the tables its SQL reads ----------------------------------------


def _tables() -> frozenset:
    """Every table of the installed models (the names looked for in SQL)."""
    known = _memo.get("tables")
    if known is None:
        from django.apps import apps

        known = frozenset(
            model._meta.db_table for model in apps.get_models(include_auto_created=True)
        )
        _memo["tables"] = known
    return known


# Tables written all the time that no cached page shows (each mail sent, each session saved):
# their writes give no new versions, so a page whose rendering reads one is never stored.
UNWATCHED_MODELS = ("core.OutboxMessage", "sessions.Session")


def _unwatched() -> frozenset:
    tables = _memo.get("unwatched")
    if tables is None:
        from django.apps import apps

        tables = _memo["unwatched"] = frozenset(
            apps.get_model(label)._meta.db_table for label in UNWATCHED_MODELS
        )
    return tables


def _tables_in(sql: str) -> set[str]:
    return set(_WORD.findall(sql)) & _tables()


def _is_write(sql: str) -> bool:
    head = sql.lstrip()[:8].upper()
    if head.startswith(_WRITES):
        return True
    return head.startswith("WITH") and _WITH_WRITE.search(sql) is not None


def _observe(execute, sql, params, many, context):
    """Django execute wrapper on every connection: note reads while a page renders for the
    cache, and give each table a statement writes a new version."""
    text = sql if isinstance(sql, str) else str(sql)
    if _is_write(text):
        result = execute(sql, params, many, context)
        tables = _tables_in(text) - _unwatched()
        if tables:
            try:
                _note_write(context["connection"], tables)
            except Exception:  # noqa: BLE001 - never fail a write for the cache's sake
                logger.exception("page cache: write to %s not noted", tables)
        return result
    reading = _reading.get(None)
    if reading is not None:
        reading.update(_tables_in(text))
    return execute(sql, params, many, context)


def _install(sender, connection, **kwargs) -> None:
    if _observe not in connection.execute_wrappers:
        connection.execute_wrappers.append(_observe)


def install() -> None:
    """Observe every connection (called when the portal's apps are ready)."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        _install(None, connection)
    connection_created.connect(_install)


class _Writes:
    """A connection's tables written in its current transaction, to bump again at commit."""

    def __init__(self):
        self.pending: set[str] = set()
        self.callback = None
        self.index = 0
        self.bumped: set[str] = set()
        self.renders = -1


def _note_write(connection, tables: set[str]) -> None:
    if not connection.in_atomic_block:
        _bump(tables)  # autocommit: the statement is committed already
        return
    state = connection.__dict__.get("_pagecache_writes")
    if state is None:
        state = connection.__dict__["_pagecache_writes"] = _Writes()
    # Still registered where it was put? (Hooks are only appended, and a rolled-back savepoint
    # drops those added inside it, so the place of ours is stable while it stands.)
    hooks = connection.run_on_commit
    registered = len(hooks) > state.index and hooks[state.index][1] is state.callback
    if not registered:  # a new transaction (or the last one rolled back)
        pending: set[str] = set()
        state.pending, state.bumped = pending, set()
        state.callback = functools.partial(_bump, pending)
        state.index = len(hooks)
        connection.on_commit(state.callback, robust=True)
    state.pending |= tables
    # At once as well: only this connection sees the uncommitted rows, so only a page this
    # process renders before the commit could show them; bump again after such a render.
    if state.renders != _renders[0]:
        state.bumped.clear()
        state.renders = _renders[0]
    fresh = tables - state.bumped
    if fresh:
        state.bumped |= fresh
        _bump(fresh)


# --- versions: in Redis, published on a channel, kept by each process -----------------------


def _redis():
    """The Redis client behind the default cache, or None (another backend)."""
    client = _memo.get("redis", False)
    if client is False:
        inner = getattr(cache, "_cache", None)
        client = inner.get_client(write=True) if hasattr(inner, "get_client") else None
        _memo["redis"] = client
    return client


def _prefix() -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}pagecache:"


def _channel(client) -> str:
    db = client.connection_pool.connection_kwargs.get("db", 0)
    return f"{_prefix()}{db}:versions"


def _new_version() -> str:
    return os.urandom(8).hex()


def _bump(tables) -> None:
    """New versions for the tables, stored and published."""
    tables = sorted(tables)
    if not tables:
        return
    versions = {table: _new_version() for table in tables}
    client = _redis()
    try:
        if client is None:
            cache.set_many({_prefix() + t: v for t, v in versions.items()}, timeout=None)
            return
        if getattr(cache, "is_down", False):
            raise ConnectionError("cache is down")
        pipe = client.pipeline(transaction=True)  # the value and its message in order
        pipe.mset({_prefix() + t: v for t, v in versions.items()})
        pipe.publish(_channel(client), " ".join(f"{t} {v}" for t, v in versions.items()))
        pipe.execute()
    except Exception:  # noqa: BLE001 - the cache is down: nothing is served from it either
        logger.warning("page cache: new versions of %s not stored", tables, exc_info=True)
        return
    state = _state()
    if state.trusted:  # this process knows at once (its own message follows)
        state.versions.update(versions)


def bump(*tables: str) -> None:
    """Pages made from these tables change (for writes Django's cursors do not see)."""
    _bump(tables)


class _ThreadState:
    def __init__(self):
        self.generation = _generation[0]
        self.pid = os.getpid()
        self.versions: dict[str, str] = {}
        self.pubsub = None
        self.trusted = False
        self.retry_at = 0.0


def _state() -> _ThreadState:
    state = getattr(_thread, "state", None)
    if state is None or state.pid != os.getpid() or state.generation != _generation[0]:
        if state is not None and state.pubsub is not None and state.pid == os.getpid():
            _close(state)
        state = _thread.state = _ThreadState()
    return state


def _close(state: _ThreadState) -> None:
    try:
        state.pubsub.close()
    except Exception:  # noqa: BLE001, S110 - closing a broken subscription
        pass
    state.pubsub, state.trusted = None, False
    state.versions.clear()


def _subscribe(state: _ThreadState, client) -> None:
    if time.monotonic() < state.retry_at:
        return
    try:
        pubsub = client.pubsub()
        pubsub.subscribe(_channel(client))
        deadline = time.monotonic() + 0.25
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.05)
            if message and message["type"] == "subscribe":
                state.pubsub, state.trusted = pubsub, True
                state.versions.clear()  # from now on every change arrives here
                return
        pubsub.close()
    except Exception:  # noqa: BLE001
        logger.warning("page cache: no subscription to new versions", exc_info=True)
    state.retry_at = time.monotonic() + 5


def _drain(state: _ThreadState) -> None:
    """Apply the new versions published since the last request (non-blocking)."""
    try:
        while (message := state.pubsub.get_message(timeout=0.0)) is not None:
            if message["type"] != "message":
                continue
            words = message["data"].decode().split()
            state.versions.update(zip(words[::2], words[1::2], strict=True))
    except Exception:  # noqa: BLE001 - lost the subscription: read versions until it is back
        logger.warning("page cache: subscription lost", exc_info=True)
        _close(state)
        state.retry_at = time.monotonic() + 5


def _versions(tables) -> dict[str, str] | None:
    """The current version of each table (None: the cache does not answer)."""
    client = _redis()
    if client is None:
        keys = {_prefix() + t: t for t in tables}
        found = cache.get_many(list(keys))
        for key in keys:
            if key not in found:
                cache.add(key, _new_version(), timeout=None)
                found[key] = cache.get(key)
        result = {keys[k]: v for k, v in found.items()}
        return None if None in result.values() else result
    if getattr(cache, "is_down", False):
        return None
    state = _state()
    if state.pubsub is None:
        _subscribe(state, client)
    if state.pubsub is not None:
        _drain(state)
    known = state.versions if state.trusted else {}
    missing = [t for t in tables if t not in known]
    result = {t: known[t] for t in tables if t in known}
    if missing:
        try:
            keys = [_prefix() + t for t in missing]
            values = client.mget(keys)
            unset = [key for key, value in zip(keys, values, strict=True) if value is None]
            if unset:  # never written (or evicted): start them now, in one round trip
                pipe = client.pipeline(transaction=False)
                for key in unset:
                    pipe.set(key, _new_version(), nx=True)
                pipe.mget(keys)
                values = pipe.execute()[-1]
            for table, value in zip(missing, values, strict=True):
                if value is None:
                    return None
                result[table] = value.decode()
        except OUTAGE:
            logger.warning("page cache: versions unavailable", exc_info=True)
            return None
        if state.trusted:
            state.versions.update((t, result[t]) for t in missing)
    return result


# --- the visitor's CSRF token in the stored page -------------------------------------------


def placeholder() -> str:
    """What stands for the CSRF token in a cached page: identical in every process of the
    portal (derived from SECRET_KEY), unguessable without it, and unlike any real token."""
    value = _memo.get("placeholder")
    if value is None:
        digest = salted_hmac("cqa_portal.core.pagecache.csrf-placeholder", "v1").hexdigest()
        value = _memo["placeholder"] = f"pagecache-csrf-{digest[:32]}"
    return value


def context(request) -> dict:
    """Template context processor: the placeholder as ``csrf_token`` while rendering for the
    cache (otherwise nothing, and Django's own token applies)."""
    token = getattr(request, _RENDERING, None)
    return {"csrf_token": token} if token else {}


def _random_chars(length: int) -> str:
    """``length`` characters of CSRF_ALLOWED_CHARS from one read of the system's randomness
    (Django's own helper reads it once per character)."""
    size = len(CSRF_ALLOWED_CHARS)
    limit = 256 - 256 % size  # unbiased: bytes above the last whole multiple are dropped
    out: list[str] = []
    while len(out) < length:
        out.extend(CSRF_ALLOWED_CHARS[b % size] for b in os.urandom(length * 2) if b < limit)
    return "".join(out[:length])


def _token(request) -> str:
    """The visitor's masked CSRF token, exactly as ``django.middleware.csrf.get_token`` makes
    it (the secret from the visitor's cookie, or a new one for the cookie the middleware then
    sets), with the randomness drawn in one read."""
    secret = request.META.get("CSRF_COOKIE")
    if not secret:
        secret = request.META["CSRF_COOKIE"] = _random_chars(CSRF_SECRET_LENGTH)
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    mask = _random_chars(CSRF_SECRET_LENGTH)
    chars = CSRF_ALLOWED_CHARS
    pairs = ((chars.index(x), chars.index(y)) for x, y in zip(secret, mask, strict=True))
    return mask + "".join(chars[(x + y) % len(chars)] for x, y in pairs)


def _fill(page: bytes, request) -> bytes:
    """The visitor's own token in place of the placeholder (and their CSRF cookie set)."""
    marker = placeholder().encode()
    if marker not in page:
        return page
    return page.replace(marker, _token(request).encode())


# --- serving --------------------------------------------------------------------------------


def _release() -> str:
    """Which static files the pages name: a hash of collectstatic's manifest (if any)."""
    release = _memo.get("release")
    if release is None:
        manifest = Path(settings.STATIC_ROOT or ".") / "staticfiles.json"
        try:
            release = hashlib.sha256(manifest.read_bytes()).hexdigest()[:12]
        except OSError:
            release = "dev"
        _memo["release"] = release
    return release


def _settings_changed(**kwargs) -> None:
    """Tests that change a setting get pages rendered with it (settings are fixed otherwise)."""
    release = _release()
    reset()
    _memo["release"] = f"{release}-{time.time_ns()}"


setting_changed.connect(_settings_changed)


def reset() -> None:
    """Forget this process's copies and versions (tests clear the shared cache between cases)."""
    _local.clear()
    _memos.clear()
    _learned.clear()
    _memo.clear()
    _generation[0] += 1


def _plain_get(request) -> bool:
    """A GET with a short query string and no flash message waiting in a cookie."""
    return (
        request.method == "GET"
        and len(request.META.get("QUERY_STRING", "")) <= MAX_QUERY
        and "messages" not in request.COOKIES
    )


def _owner(request) -> str | None:
    """Whose copy the request gets: "anon", "u<id>", or None (rendered, never cached)."""
    if not _plain_get(request):
        return None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        session = getattr(request, "session", None)
        if session is not None and session.get("_messages"):
            return None
        return f"u{user.pk}"
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        return None
    return "anon"


def _key(owner: str, request) -> str:
    language = get_language() or settings.LANGUAGE_CODE
    where = f"{request.path}?{request.META.get('QUERY_STRING', '')}"
    digest = hashlib.sha256(where.encode()).hexdigest()[:32]
    return f"{_prefix()}page:{_release()}:{language}:{owner}:{digest}"


def _storable(request, response, token_used_before: bool) -> bool:
    if response.status_code != 200 or response.cookies or response.streaming:
        return False
    if not token_used_before and request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return False  # something rendered a real token: it must not be shown to others
    storage = getattr(request, "_messages", None)
    return not (storage is not None and getattr(storage, "added_new", False))


def _render_for_cache(request, render):
    """Render with the placeholder as token, noting the tables read; (response, storable,
    tables)."""
    token_used_before = bool(request.META.get("CSRF_COOKIE_NEEDS_UPDATE"))
    setattr(request, _RENDERING, placeholder())
    read: set[str] = set()
    reading = _reading.set(read)
    try:
        response = render(placeholder())
        if hasattr(response, "render") and not getattr(response, "is_rendered", True):
            response.render()
    finally:
        _reading.reset(reading)
        delattr(request, _RENDERING)
        _renders[0] += 1
    return response, _storable(request, response, token_used_before), read


def _current(entry) -> bool:
    deps, versions, expires_at, _page = entry
    if expires_at <= time.time():
        return False
    now = _versions(deps)
    return now is not None and tuple(now[t] for t in deps) == versions


def serve(request, render, *, lifetime: int = LIFETIME, name: str = ""):
    """``render(csrf_token)`` returns the page's response; stored when it is a plain 200."""
    owner = _owner(request)
    if owner is None or getattr(cache, "is_down", False):
        return render(None)  # (the fail-soft cache is down: every visit rendered afresh)
    name = name or getattr(request.resolver_match, "view_name", "") or request.path
    try:
        key = _key(owner, request)
        entry = _local.get(key)
        if entry is None or not _current(entry):
            entry = cache.get(key)
            if entry is not None and not _current(entry):
                entry = None
        if entry is None:
            implicit = {_user_table()} if owner != "anon" else set()
            # What the view read before (the first time in this process: every table).
            known = _learned.get(name, frozenset())
            deps = (known or _tables()) | implicit
            before = _versions(deps)
            if before is None:  # the cache answered as if empty (down): render, store nothing
                return render(None)
    except Exception:  # noqa: BLE001 - cache down: render as if uncached
        logger.warning("page cache unavailable for %s", name, exc_info=True)
        return render(None)
    if entry is None:
        response, storable, read = _render_for_cache(request, render)
        # Everything the view was seen to read, not only this time: a render that skipped a
        # table (a process-wide memo was warm) still depends on it.
        read = read | implicit | known
        _learned[name] = read - implicit
        if not storable or not read <= deps or read & _unwatched():
            if not response.streaming:
                response.content = _fill(response.content, request)
            return response
        ordered = tuple(sorted(read))
        entry = (
            ordered,
            tuple(before[t] for t in ordered),
            time.time() + lifetime,
            response.content,
        )
        try:
            cache.set(key, entry, timeout=lifetime)
        except Exception:  # noqa: BLE001
            logger.warning("page cache: %s not stored", name, exc_info=True)
    if len(_local) >= _LOCAL_MAX:
        _local.clear()
    _local[key] = entry
    return HttpResponse(_fill(entry[3], request))


def stored_page(request) -> HttpResponse | None:
    """For ``PageCacheMiddleware``: the stored page an anonymous visitor asked for, if there is a
    current one (served before the rest of the middleware and the URL resolver run); else None
    and the request goes on to the view (whose ``serve`` renders and stores it)."""
    if not _plain_get(request) or settings.SESSION_COOKIE_NAME in request.COOKIES:
        return None  # (no session cookie: certainly anonymous)
    if getattr(cache, "is_down", False):
        return None
    try:
        key = _key("anon", request)
        entry = _local.get(key)
        if entry is None or not _current(entry):
            return None
    except Exception:  # noqa: BLE001 - the view renders
        logger.warning("page cache unavailable", exc_info=True)
        return None
    return HttpResponse(_fill(entry[3], request))


def memo(key: str, tables: tuple[str, ...], load, *, lifetime: int = LIFETIME):
    """``load()``, remembered in this process while ``tables`` keep the versions they had when
    it was called (and for at most ``lifetime`` seconds): exact like the pages, for values read
    on every request (the signed-in user). Callers copy what they hand out if it is mutable."""
    try:
        versions = _versions(tables)
    except Exception:  # noqa: BLE001 - cache down: load
        versions = None
    if versions is None:
        return load()
    now = tuple(versions[t] for t in tables)
    held = _memos.get(key)
    if held is not None and held[0] == now and held[1] > time.time():
        return held[2]
    value = load()
    if len(_memos) >= _MEMO_MAX:
        _memos.clear()
    _memos[key] = (now, time.time() + lifetime, value)
    return value


def _user_table() -> str:
    from django.contrib.auth import get_user_model

    return get_user_model()._meta.db_table


def page(*, lifetime: int = LIFETIME):
    """View decorator: GETs of the view served through ``serve`` (put it outermost, so access
    checks are cached with the page and rechecked whenever what they read changes)."""

    def decorate(view):
        name = f"{view.__module__}.{view.__qualname__}"

        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            return serve(
                request,
                lambda _token: view(request, *args, **kwargs),
                lifetime=lifetime,
                name=name,
            )

        return wrapper

    return decorate
