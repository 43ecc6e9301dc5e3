import smtplib
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from cqa_portal.core import services
from cqa_portal.core.models import AuditEntry, OutboxMessage
from cqa_portal.core.tasks import outbox_send_task
from tests.factories import StaffFactory
from tests.mails import app_callbacks


def _enqueue(key="test.purpose:a@example.com", **kwargs):
    defaults = {"purpose": "test.purpose", "to": "a@example.com", "subject": "主题", "body": "正文"}
    defaults.update(kwargs)
    return services.outbox_enqueue(key=key, **defaults)


@pytest.mark.django_db
def test_message_written_once_per_key_and_sent_after_commit(
    django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = _enqueue()
        second = _enqueue(subject="changed")
    assert first.pk == second.pk
    assert len(app_callbacks(callbacks)) == 1
    assert OutboxMessage.objects.count() == 1
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == "主题"
    first.refresh_from_db()
    assert first.status == OutboxMessage.Status.SENT
    assert first.sent_at is not None


@pytest.mark.django_db
def test_sending_twice_sends_once(mailoutbox):
    message = _enqueue()
    assert services.outbox_send(message_id=message.pk) is True
    assert services.outbox_send(message_id=message.pk) is False
    outbox_send_task(message.pk)  # a redelivered task
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_rolled_back_transaction_writes_and_sends_nothing(
    django_capture_on_commit_callbacks, mailoutbox
):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            _enqueue()
            raise RuntimeError("the causing change failed")
    assert not OutboxMessage.objects.exists()
    assert mailoutbox == []


@pytest.mark.django_db
def test_broker_down_does_not_fail_and_sweep_sends_exactly_once(
    django_capture_on_commit_callbacks, mailoutbox
):
    with mock.patch.object(
        outbox_send_task, "delay", side_effect=OperationalError("Connection refused")
    ):
        with django_capture_on_commit_callbacks(execute=True):
            message = _enqueue()
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING
    assert mailoutbox == []
    assert services.outbox_sweep() == 1
    assert services.outbox_sweep() == 0
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_temporary_smtp_failure_is_retried_with_backoff(mailoutbox):
    message = _enqueue()
    error = smtplib.SMTPResponseException(451, b"try again later")
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=error):
        assert services.outbox_send(message_id=message.pk) is False
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING
    assert message.attempts == 1
    assert message.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert "451" in message.last_error
    # Not due yet: the sweep leaves it; once due, it goes out.
    assert services.outbox_sweep() == 0
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    assert services.outbox_sweep() == 1
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_permanent_smtp_failure_is_not_retried_and_staff_can_retry(client, mailoutbox):
    message = _enqueue()
    error = smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no such user")})
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=error):
        services.outbox_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED
    assert services.outbox_sweep() == 0

    staff = StaffFactory()
    client.force_login(staff)
    listing = client.get("/admin/core/outboxmessage/?status__exact=failed")
    assert "a@example.com" in listing.content.decode()
    response = client.post(
        "/admin/core/outboxmessage/",
        {"action": "retry_failed", "_selected_action": [message.pk]},
        follow=True,
    )
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING
    assert AuditEntry.objects.get(action="core.outbox.retried").actor == staff
    assert services.outbox_sweep() == 1
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_stale_claim_is_taken_back_by_the_sweep(mailoutbox):
    message = _enqueue()
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.SENDING, claimed_at=timezone.now() - timedelta(hours=1)
    )
    assert services.outbox_sweep() == 1
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_batch_uses_one_connection(mailoutbox):
    ids = [_enqueue(key=f"k:{i}", to=f"u{i}@example.com").pk for i in range(5)]
    with mock.patch(
        "cqa_portal.core.services.delivery.get_connection", wraps=services.delivery.get_connection
    ) as get_connection:
        assert services.outbox_send_many(message_ids=ids) == 5
    assert get_connection.call_count == 1
    assert len(mailoutbox) == 5


@pytest.mark.django_db
def test_purge_removes_only_old_sent_mail():
    old = _enqueue(key="old")
    recent = _enqueue(key="recent")
    pending = _enqueue(key="pending")
    OutboxMessage.objects.filter(pk=old.pk).update(
        status=OutboxMessage.Status.SENT, sent_at=timezone.now() - timedelta(days=400)
    )
    OutboxMessage.objects.filter(pk=recent.pk).update(
        status=OutboxMessage.Status.SENT, sent_at=timezone.now() - timedelta(days=10)
    )
    assert services.outbox_purge() == 1
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {recent.pk, pending.pk}


def test_beat_schedule_declares_the_sweeps():
    from cqa_portal.celery import app

    app.loader.import_default_modules()  # what a worker does at start: autodiscover tasks
    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"core.outbox.sweep", "core.outbox.purge"} <= tasks
    for task in tasks:
        assert task in app.tasks, task


@pytest.mark.django_db
def test_message_id_is_stable_per_row_so_a_retry_is_a_retransmission(mailoutbox):
    message = _enqueue()
    services.outbox_send(message_id=message.pk)
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxMessage.Status.PENDING)
    services.outbox_send(message_id=message.pk)  # e.g. after a worker died before marking it
    first, second = (m.extra_headers["Message-ID"] for m in mailoutbox)
    assert first == second == services.message_id_header(message)
    assert first.startswith(f"<outbox.{message.pk}.") and first.endswith("@caq.example.org>")
