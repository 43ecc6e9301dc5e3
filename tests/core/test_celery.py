import pytest
from celery.contrib.testing.worker import start_worker

from cqa_portal.celery import app
from cqa_portal.core import services
from cqa_portal.core.models import OutboxMessage


@pytest.fixture
def real_worker(redis_url, postgres, transactional_db):
    """A real Celery worker thread consuming from the real Redis broker."""
    from celery.signals import task_postrun
    from django.db import connections

    def close_worker_connections(**kwargs):
        # The worker thread opens its own database connection; close it so the test
        # database can be dropped at the end of the run.
        connections.close_all()

    task_postrun.connect(close_worker_connections, weak=False)
    started = _database_now()
    app.conf.task_always_eager = False
    try:
        with start_worker(app, perform_ping_check=False, queues=["mail", "default"]) as worker:
            yield worker
    finally:
        app.conf.task_always_eager = True
        task_postrun.disconnect(close_worker_connections)
        _drop_sessions_opened_since(started)


def _database_now():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def _drop_sessions_opened_since(started):
    """End the database sessions the worker thread opened (and left open), so the test database
    can be dropped; sessions of other threads (the live server's) are left alone."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_start >= %s",
            [started],
        )


def test_task_goes_through_redis_and_a_real_worker(real_worker, mailoutbox):
    # Written in a committed transaction; the send task is published to Redis after commit.
    message = services.outbox_enqueue(
        key="test.celery:worker@example.com",
        purpose="test.celery",
        to="worker@example.com",
        subject="经由真实队列",
        body="正文",
    )
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.status == OutboxMessage.Status.SENT:
            break
        time.sleep(0.2)
    assert message.status == OutboxMessage.Status.SENT
    assert [m.subject for m in mailoutbox] == ["经由真实队列"]


def test_ping_task_result_seen_in_cache(real_worker):
    import time
    import uuid

    from django.core.cache import cache

    from cqa_portal.core.tasks import ping_task

    token = uuid.uuid4().hex
    ping_task.delay(token)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and cache.get(f"core.ping.{token}") is None:
        time.sleep(0.2)
    assert cache.get(f"core.ping.{token}") == "pong"
