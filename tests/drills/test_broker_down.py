"""Drill: the broker (Redis) goes down while people use the portal.

Done: a real Celery app points at a Redis server of the drill's own; the server is killed;
users then file a fee-relief request (and the other mail-causing actions of the portal), and
/healthz is read; Redis is started again and a real worker runs the beat's outbox sweep.
Checked: every request still succeeds (no 5xx) and writes its mail to the outbox; /healthz says
503 while Redis is down; after restart every waiting mail is sent exactly once."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.test import override_settings

from cqa_portal.celery import app
from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.tasks import outbox_sweep_task
from tests.members.factories import FeeFactory, MembershipFactory, reason

from .own_redis import OwnRedis


def _point_celery_at(url):
    """Make the app publish to ``url`` from now on (drop every cached connection pool)."""
    from kombu import pools

    app.conf.broker_url = url
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker(postgres, transactional_db):
    own = OwnRedis().start()
    previous = app.conf.broker_url
    _point_celery_at(own.url)
    app.conf.task_always_eager = False
    try:
        with override_settings(CELERY_BROKER_URL=own.url):
            yield own
    finally:
        own.stop()
        app.conf.task_always_eager = True
        _point_celery_at(previous)


def _file_relief_request(client):
    membership = MembershipFactory()
    FeeFactory(company=membership.company)
    client.force_login(membership.user)
    sales = reason("sales")
    return client.post(
        "/members/relief/new/",
        {"year": "2020", "kind": "waiver", "reasons": [sales.pk], "submit": "1"},
    )


def test_broker_down_loses_no_mail_and_sends_each_once(broker, client, mailoutbox):
    broker.stop()
    started = time.monotonic()
    responses = [_file_relief_request(client)]
    elapsed = time.monotonic() - started
    assert [r.status_code for r in responses] == [302]
    assert elapsed < 15, f"a request waited {elapsed:.1f}s for the broker"
    print(f"request with broker down took {elapsed:.2f}s")
    pending = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING)
    assert pending.count() == len(responses)
    assert mailoutbox == []

    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["checks"]["broker"].startswith("error")

    broker.start()
    assert client.get("/healthz").json()["checks"]["broker"] == "ok"
    with start_worker(app, perform_ping_check=False, queues=["mail", "default"]):
        outbox_sweep_task.delay()  # what beat does every minute
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and pending.exists():
            time.sleep(0.2)
        outbox_sweep_task.delay()  # a second sweep finds nothing more to send
        time.sleep(1)
    from django.db import connections

    connections.close_all()
    assert not pending.exists()
    keys = [m.extra_headers.get("Message-ID") for m in mailoutbox]
    assert len(keys) == len(set(keys)) == OutboxMessage.objects.count()
