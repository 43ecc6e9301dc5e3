"""Drill: a real SMTP server defers one recipient (4xx) and refuses another (5xx).
Checked: the deferred mail is retried with backoff and delivered once; the refused one is marked
failed and not retried; staff see it in the admin and retry it; nothing is delivered twice."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from cqa_portal.core import services
from cqa_portal.core.models import OutboxMessage
from tests.factories import StaffFactory

from .smtp_sink import SmtpSink


@pytest.fixture
def sink():
    with SmtpSink() as sink, override_settings(**sink.settings()):
        yield sink


def _enqueue(to):
    return services.outbox_enqueue(
        key=f"drill.smtp:{to}",
        purpose="drill.smtp",
        to=to,
        subject="演练",
        body="正文",
        send_now=False,
    )


@pytest.mark.django_db
def test_smtp_temporary_and_permanent_failures(sink, client):
    ok, busy, gone = (
        _enqueue(a) for a in ["ok@example.com", "busy@example.com", "gone@example.com"]
    )
    sink.handler.temporary.add("busy@example.com")
    sink.handler.permanent.add("gone@example.com")

    assert services.outbox_sweep() == 1
    for message in (ok, busy, gone):
        message.refresh_from_db()
    assert ok.status == OutboxMessage.Status.SENT
    assert busy.status == OutboxMessage.Status.PENDING
    assert busy.attempts == 1 and busy.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert "451" in busy.last_error
    assert gone.status == OutboxMessage.Status.FAILED
    assert "550" in gone.last_error

    # Not due yet: a sweep now sends nothing and never retries the refused one.
    assert services.outbox_sweep() == 0
    # The mailbox recovers; once the backoff has passed the deferred mail goes out, once.
    sink.handler.temporary.clear()
    OutboxMessage.objects.filter(pk=busy.pk).update(next_attempt_at=timezone.now())
    assert services.outbox_sweep() == 1
    assert services.outbox_sweep() == 0

    # Staff see the failed mail in the admin and retry it after the address is fixed.
    sink.handler.permanent.clear()
    client.force_login(StaffFactory())
    listing = client.get("/admin/core/outboxmessage/?status__exact=failed").content.decode()
    assert "gone@example.com" in listing
    client.post(
        "/admin/core/outboxmessage/", {"action": "retry_failed", "_selected_action": [gone.pk]}
    )
    assert services.outbox_sweep() == 1

    message_ids = {
        to: services.message_id_header(OutboxMessage.objects.get(to=to))
        for to in ("ok@example.com", "busy@example.com", "gone@example.com")
    }
    assert sink.handler.delivered == {f"{mid}|{to}": 1 for to, mid in message_ids.items()}


@pytest.mark.django_db
def test_smtp_server_down_is_temporary(client):
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=1,
        EMAIL_TIMEOUT=2,
    ):
        message = _enqueue("nobody@example.com")
        assert services.outbox_sweep() == 0
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING
    assert message.attempts == 1
