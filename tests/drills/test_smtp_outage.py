"""Drill: the SMTP server is down for a while, with mail waiting; then it comes back.

Done: a real SMTP server (aiosmtpd) is stopped; three mails are swept (each fails to connect and
waits for its backoff); staff open the outbox admin; the server is started again on the same
port; the beat's next sweep runs.
Checked: staff see the backlog at the top of the outbox admin (waiting count and the oldest
mail's age) and in ``outbox_backlog()``; the first sweep after the server's return delivers
every waiting mail although their backoff has not expired (before: 60 s then 300 s, so a
2-minute outage delivered 6 minutes after the return), each exactly once; a mailbox that
answered 4xx keeps its backoff (only mail that could not reach the server is hurried)."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from cqa_portal.core import services
from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.selectors import outbox_backlog
from tests.factories import StaffFactory

from .smtp_sink import SmtpSink


def _enqueue(to):
    return services.outbox_enqueue(
        key=f"drill.outage:{to}", purpose="drill.outage", to=to, subject="演练", body="正文",
        send_now=False,
    )  # fmt: skip


@pytest.mark.django_db
def test_backlog_shown_to_staff_and_sent_as_soon_as_the_server_returns(client):
    sink = SmtpSink()
    with override_settings(**sink.settings(), EMAIL_TIMEOUT=2):
        rows = [_enqueue(f"r{n}@example.com") for n in range(3)]
        assert outbox_backlog()["pending"] == 3
        # The server is down: every mail fails to connect and waits for its backoff.
        assert services.outbox_sweep() == 0
        for row in rows:
            row.refresh_from_db()
            assert row.status == OutboxMessage.Status.PENDING
            assert row.next_attempt_at > timezone.now() + timedelta(seconds=20)
        OutboxMessage.objects.update(created_at=timezone.now() - timedelta(minutes=2))
        backlog = outbox_backlog()
        print(f"server down: backlog {backlog}")
        assert backlog["pending"] == 3 and backlog["failed"] == 0
        assert timedelta(minutes=2) <= backlog["oldest_pending_age"] < timedelta(minutes=3)

        client.force_login(StaffFactory())
        page = client.get("/admin/core/outboxmessage/").content.decode()
        assert "3 封邮件等待发送" in page and "最早的已等待 2" in page

        with sink:
            sink.handler.temporary.add("busy@example.com")
            busy = _enqueue("busy@example.com")
            assert services.outbox_sweep() == 3  # the server's return is noticed at once
            busy.refresh_from_db()
            assert busy.status == OutboxMessage.Status.PENDING and "451" in busy.last_error
            assert services.outbox_sweep() == 0  # the deferred mailbox keeps its backoff
        delivered = sink.handler.delivered
        print(f"server back: delivered {dict(delivered)}")
        assert len(delivered) == 3 and set(delivered.values()) == {1}
        assert outbox_backlog()["pending"] == 1
