from cqa_portal.core import services
from cqa_portal.core.models import OutboxMessage


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
