"""The reminder sweep through Redis and a real Celery worker (PostgreSQL and Redis)."""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from courses.tasks import reminders_sweep_task
from cqa_portal.celery import app
from cqa_portal.core.models import OutboxMessage

from .factories import RegistrationFactory, SessionFactory


@pytest.fixture
def real_worker(redis_url, postgres, transactional_db):
    from celery.signals import task_postrun
    from django.db import connection, connections

    def close_worker_connections(**kwargs):
        connections.close_all()

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
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


def test_beat_sweep_through_the_broker_sends_each_reminder_once(real_worker, mailoutbox, settings):
    settings.COURSES_MAIL_BATCH_SIZE = 40
    start = timezone.now() + timedelta(minutes=50)
    session = SessionFactory(starts_at=start, ends_at=start + timedelta(hours=1))
    registrations = RegistrationFactory.create_batch(100, session=session)
    reminders_sweep_task.delay()
    reminders_sweep_task.delay()  # two beats at once: still once each
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sent = OutboxMessage.objects.filter(
            purpose="courses.reminder", status=OutboxMessage.Status.SENT
        ).count()
        if sent == 100:
            break
        time.sleep(0.2)
    time.sleep(0.5)
    assert OutboxMessage.objects.filter(purpose="courses.reminder").count() == 100
    assert sorted(m.to[0] for m in mailoutbox) == sorted(r.email for r in registrations)
