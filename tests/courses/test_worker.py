"""The reminder sweep through Redis and a real Celery worker (PostgreSQL and Redis)."""

import time
from datetime import timedelta

from django.utils import timezone

from courses.tasks import reminders_sweep_task
from cqa_portal.core.models import OutboxMessage

from .factories import RegistrationFactory, SessionFactory


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
