"""Health of the services the portal depends on, for /healthz and for load balancers."""

from __future__ import annotations

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _broker() -> str:
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=0.5, socket_timeout=0.5
    )
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def _cache() -> str:
    if hasattr(cache, "health"):  # the fail-soft cache hides outages from everything else
        return cache.health()
    cache.set("healthz", "ok", timeout=10)
    if cache.get("healthz") != "ok":
        raise RuntimeError("cache did not return the value just written")
    return "ok"


def health_report() -> tuple[bool, dict[str, str]]:
    """(all up, {component: "ok" or the error}). Broker and cache are checked when Redis is
    configured; without it tasks run inline and the cache is in process memory."""
    checks = {"database": _database}
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        checks["broker"] = _broker
    if "redis" in settings.CACHES["default"]["BACKEND"].lower():
        checks["cache"] = _cache
    report: dict[str, str] = {}
    healthy = True
    for name, check in checks.items():
        try:
            report[name] = check()
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            report[name] = f"error: {type(exc).__name__}"
            healthy = False
    return healthy, report
