"""Root fixtures. In CI (CI=true) a test that needs PostgreSQL, Redis or Chromium fails when the
service is missing; elsewhere it is skipped with the reason."""

import os
import shutil

import pytest
from django.conf import settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(condition: bool, reason: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_sessionstart(session):
    if IN_CI:
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith(("postgres://", "postgresql://")):
            raise pytest.UsageError("CI must run on PostgreSQL: set DATABASE_URL")
        if not os.environ.get("REDIS_URL"):
            raise pytest.UsageError("CI must run with Redis: set REDIS_URL")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Transactional tests (run last) empty every table, the rows the migrations seed included
    (membership levels, relief reasons, the COVID survey): a test database kept with
    --reuse-db would start the next run without them. Seed them again (idempotent)."""
    import importlib

    from django.apps import apps

    with django_db_blocker.unblock():
        importlib.import_module("members.migrations.0002_relief_reasons").seed(apps, None)
        importlib.import_module("surveys.migrations.0002_covid_survey").install(apps, None)


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the portal's language: a request made with the English cookie
    (or a test's translation.activate) leaves its language active in this thread."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _clean_cache():
    from django.core.cache import cache

    from cqa_portal.celery import PortalTask
    from cqa_portal.core import pagecache

    PortalTask.broker_down_until = 0.0  # a drill's broker outage ends with the drill
    if hasattr(cache, "is_down"):  # the fail-soft cache: a drill's outage ends with it
        cache._down_until = 0.0
    cache.clear()
    pagecache.reset()  # this process's copies of cached pages go with the shared cache
    yield
    pagecache.reset()


@pytest.fixture
def uncached_pages():
    """Every page rendered, none served from the page cache, and the signed-in user read from
    the database on each request, not from its memo (tests that count what rendering a page
    costs: the user, then the page's own queries; the session comes from the cache)."""
    from unittest import mock

    from cqa_portal.core import pagecache

    with (
        mock.patch.object(pagecache, "_owner", return_value=None),
        mock.patch.object(pagecache, "memo", lambda key, tables, load, **kwargs: load()),
    ):
        yield


@pytest.fixture
def postgres(db):
    from django.db import connection

    need(connection.vendor == "postgresql", "needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture
def redis_url():
    import redis

    need(bool(settings.REDIS_URL), "needs Redis (set REDIS_URL)")
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"REDIS_URL is set but Redis does not answer: {exc}")
    finally:
        client.close()
    return settings.REDIS_URL


@pytest.fixture
def real_worker(redis_url, postgres, transactional_db):
    """A real Celery worker thread consuming the queues from the real Redis broker (tasks are
    no longer run inline). The database sessions it opened are ended afterwards, so the test
    database can be dropped; other threads' sessions (the live server's) are left alone."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun
    from django.db import connection, connections

    from cqa_portal.celery import app

    def close_worker_connections(**kwargs):
        connections.close_all()

    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        started = cursor.fetchone()[0]
    task_postrun.connect(close_worker_connections, weak=False)
    app.conf.task_always_eager = False
    try:
        with start_worker(app, perform_ping_check=False, queues=["mail", "default"]) as worker:
            yield worker
    finally:
        app.conf.task_always_eager = True
        task_postrun.disconnect(close_worker_connections)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_start >= %s",
                [started],
            )


@pytest.fixture
def chromium_path():
    path = shutil.which("chromium") or "/usr/bin/chromium"
    need(os.path.exists(path), "needs Debian's chromium package")
    return path


@pytest.fixture(scope="session")
def libreoffice_path():
    """Debian's LibreOffice (``libreoffice-writer-nogui``, installed by ``.ci/run``)."""
    path = shutil.which("libreoffice")
    need(path is not None, "needs Debian's libreoffice-writer-nogui package")
    return path


# Debian's Chromium as root, headless, with nothing reaching for the closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page(chromium_path, live_server):
    """A headless page in Debian's Chromium (never a downloaded browser), for browser tests.

    Playwright's sync API runs an event loop in this thread, inside which Django keeps database
    connections of their own: they are health-checked at the start (an earlier test may have
    ended them) and closed at the end, so the test database can be dropped.
    """
    from django.db import close_old_connections, connections
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        close_old_connections()
        browser = playwright.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()
            connections.close_all()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def admin_user(admin_user):
    """pytest-django's superuser, who has accepted the current privacy notice (else every page
    outside the admin asks for it first, see core.middleware.PrivacyNoticeMiddleware)."""
    from cqa_portal.core import privacy

    admin_user.privacy_consent_version = privacy.version()
    admin_user.save(update_fields=["privacy_consent_version"])
    return admin_user


@pytest.fixture
def staff_client(client, db):
    """The test client logged in as association staff."""
    from tests.factories import StaffFactory

    client.force_login(StaffFactory())
    return client


AXE_PATH = os.path.join(os.path.dirname(__file__), "node_modules", "axe-core", "axe.min.js")


@pytest.fixture
def axe():
    """``axe(page)`` runs axe-core (pinned in package-lock.json, installed by ``make test``) on
    the page and returns its serious and critical violations as readable lines."""
    need(os.path.exists(AXE_PATH), "needs axe-core: run `npm ci` (make test does)")
    with open(AXE_PATH, encoding="utf-8") as handle:
        source = handle.read()

    def run(page, *, context: str = "") -> list[str]:
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(source)  # through the DevTools protocol: the page's CSP allows it
        result = page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".filter(v => ['serious', 'critical'].includes(v.impact))"
            ".map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3)"
            ".map(n => n.target.join(' ')).join(' | '))"
        )
        return [f"{context or page.url}: {line}" for line in result]

    return run
