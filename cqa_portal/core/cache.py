"""The cache fails soft: a Redis outage never reaches a request.

Django's ``RedisCache`` raises on a connection error, so allauth's rate limiter (which takes a
lock in the cache on login and signup) answered 500 while Redis was down, and a frozen Redis
made every request wait out the socket timeout once per cache call. ``FailSoftRedisCache``
catches the connection and timeout errors of every operation, logs them, and answers as an
empty cache that accepts every write: reads miss (pages are rendered, ``pagecache`` falls back
to rendering), ``add`` succeeds (allauth's lock is "taken", so a login proceeds without the
rate limit, logged), ``incr`` counts from zero (throttles let the request through). After an
error the cache is treated as down for ``DOWN_SECONDS`` in this process, so a frozen server
costs one short socket timeout per process per window, not one per call.

``health()`` (for ``/healthz``) bypasses all of this and raises the real error.

One client per connection pool: Django's ``RedisCacheClient.get_client`` builds a new
``redis.Redis`` for every cache call, and redis-py fills a dictionary of some 170 response
callbacks in each constructor (about half a millisecond, more than the loopback round trip; a
page served from the page cache makes one or two calls). A ``redis.Redis`` is thread-safe and
uses the same pool (which reconnects after a fork), so one per pool is enough.
"""

from __future__ import annotations

import functools
import logging
import time

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

DOWN_SECONDS = 5.0
OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)


def _soft(default):
    """Run the operation unless the cache is known to be down; on an outage return
    ``default(self, *args, **kwargs)``."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if self._down_until > time.monotonic():
                return default(self, *args, **kwargs)
            try:
                return method(self, *args, **kwargs)
            except OUTAGE as exc:
                self._down_until = time.monotonic() + DOWN_SECONDS
                logger.warning(
                    "cache unavailable (%s: %s): %s answered as a miss, retried in %ss",
                    type(exc).__name__,
                    exc,
                    method.__name__,
                    DOWN_SECONDS,
                )
                return default(self, *args, **kwargs)

        return wrapper

    return decorate


def _get_default(self, key, default=None, version=None):
    return default


def _incr_default(self, key, delta=1, version=None):
    return delta


class _Client(RedisCacheClient):
    """One ``redis.Redis`` per connection pool (see above)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class FailSoftRedisCache(RedisCache):
    """``django.core.cache.backends.redis.RedisCache`` that never raises a Redis outage."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _Client
        self._down_until = 0.0

    @property
    def is_down(self) -> bool:
        return self._down_until > time.monotonic()

    def health(self) -> str:
        """A real round trip, errors raised (not soft): for ``/healthz``."""
        client = self._cache.get_client(write=True)
        client.set(self.make_and_validate_key("healthz"), b"ok", ex=10)
        if client.get(self.make_and_validate_key("healthz")) != b"ok":
            raise RuntimeError("cache did not return the value just written")
        self._down_until = 0.0
        return "ok"

    add = _soft(lambda self, *a, **k: True)(RedisCache.add)
    get = _soft(_get_default)(RedisCache.get)
    set = _soft(lambda self, *a, **k: None)(RedisCache.set)
    touch = _soft(lambda self, *a, **k: False)(RedisCache.touch)
    delete = _soft(lambda self, *a, **k: False)(RedisCache.delete)
    get_many = _soft(lambda self, *a, **k: {})(RedisCache.get_many)
    has_key = _soft(lambda self, *a, **k: False)(RedisCache.has_key)
    incr = _soft(_incr_default)(RedisCache.incr)
    set_many = _soft(lambda self, data, *a, **k: list(data))(RedisCache.set_many)
    delete_many = _soft(lambda self, *a, **k: None)(RedisCache.delete_many)
    clear = _soft(lambda self, *a, **k: False)(RedisCache.clear)
