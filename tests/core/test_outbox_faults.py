"""Outbox under faults: time-bound mail never sent late by any sender; a time limit or an
exception never marks accepted mail failed; each mail is marked sent when it is accepted."""

from datetime import timedelta
from unittest import mock

import pytest
from billiard.exceptions import SoftTimeLimitExceeded
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from cqa_portal.core import services
from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.services import delivery
from cqa_portal.core.tasks import outbox_send_task
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db
Status = OutboxMessage.Status


def _mail(n, *, deadline=None, **fields):
    message = services.outbox_enqueue(
        key=f"test.faults:{n}",
        purpose="test.faults",
        to=f"r{n}@example.com",
        subject="提醒",
        body="正文",
        deadline=deadline,
        send_now=False,
    )
    if fields:
        OutboxMessage.objects.filter(pk=message.pk).update(**fields)
    return message


def _past():
    return timezone.now() - timedelta(minutes=1)


def _status(message):
    message.refresh_from_db()
    return message.status


def test_batch_sender_expires_mail_past_its_deadline(mailoutbox):
    late, fine = _mail(1, deadline=_past()), _mail(2, deadline=timezone.now() + timedelta(hours=1))
    assert services.outbox_send_many(message_ids=[late.pk, fine.pk], window=20) == 1
    assert [m.to for m in mailoutbox] == [["r2@example.com"]]
    assert _status(late) == Status.EXPIRED
    assert "deadline" in late.last_error and late.sent_at is None


def test_single_send_expires_mail_past_its_deadline(mailoutbox):
    late = _mail(1, deadline=_past())
    assert outbox_send_task(late.pk) is False
    assert mailoutbox == [] and _status(late) == Status.EXPIRED


def test_deadline_passing_during_the_batch_is_checked_before_each_mail(mailoutbox):
    soon = timezone.now() + timedelta(seconds=30)
    first, second = _mail(1), _mail(2, deadline=soon)
    real_send = EmailBackend.send_messages

    def slow_send(self, messages):  # the first mail takes a minute
        with mock.patch("django.utils.timezone.now", return_value=soon + timedelta(seconds=1)):
            return real_send(self, messages)

    with mock.patch.object(EmailBackend, "send_messages", slow_send):
        real_now = timezone.now
        calls = {"n": 0}

        def clock():
            calls["n"] += 1
            return real_now() if calls["n"] <= 2 else soon + timedelta(seconds=5)

        with mock.patch("django.utils.timezone.now", side_effect=clock):
            services.outbox_send_many(message_ids=[first.pk, second.pk], window=20)
    assert [m.to for m in mailoutbox] == [["r1@example.com"]]
    assert _status(second) == Status.EXPIRED


def test_sweep_expires_pending_retries_and_stale_claims(mailoutbox, settings):
    waiting = _mail(1, deadline=_past(), next_attempt_at=timezone.now() + timedelta(minutes=5))
    due = _mail(2, deadline=_past())
    stale = timezone.now() - timedelta(seconds=settings.OUTBOX_STALE_CLAIM_SECONDS + 5)
    claimed = _mail(3, deadline=_past(), status=Status.SENDING, claimed_at=stale)
    undated = _mail(4)
    assert services.outbox_sweep() == 1
    assert [m.to for m in mailoutbox] == [["r4@example.com"]]
    assert [_status(m) for m in (waiting, due, claimed, undated)] == [
        Status.EXPIRED, Status.EXPIRED, Status.EXPIRED, Status.SENT
    ]  # fmt: skip


def test_stale_claim_past_its_deadline_is_not_sent_by_the_batch_sender(mailoutbox, settings):
    stale = timezone.now() - timedelta(seconds=settings.OUTBOX_STALE_CLAIM_SECONDS + 5)
    claimed = _mail(1, deadline=_past(), status=Status.SENDING, claimed_at=stale)
    assert services.outbox_send_many(message_ids=[claimed.pk], window=20) == 0
    assert mailoutbox == [] and _status(claimed) == Status.EXPIRED


def test_staff_retry_expires_what_is_past_its_deadline_and_audits_it(
    mailoutbox, django_capture_on_commit_callbacks
):
    staff = StaffFactory()
    late = _mail(1, deadline=_past(), status=Status.FAILED)
    fine = _mail(2, status=Status.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.outbox_retry(message_ids=[late.pk, fine.pk], actor=staff) == 1
    assert _status(late) == Status.EXPIRED
    assert _status(fine) == Status.SENT  # retried (tasks run inline in tests)
    from cqa_portal.core.models import AuditEntry

    assert set(AuditEntry.objects.values_list("action", "to_state")) == {
        ("core.outbox.expired", "expired"),
        ("core.outbox.retried", "pending"),
    }


def test_expired_status_is_translated():
    from django.utils import translation

    with translation.override("zh-hans"):
        assert str(Status.EXPIRED.label) != "Expired"


# --- accepted or not --------------------------------------------------------------------


def test_soft_time_limit_inside_send_is_not_a_failure_and_releases_the_window(mailoutbox):
    rows = [_mail(n) for n in range(5)]
    real_send = EmailBackend.send_messages
    calls = {"n": 0}

    def send(self, messages):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SoftTimeLimitExceeded
        return real_send(self, messages)

    with mock.patch.object(EmailBackend, "send_messages", send):
        with pytest.raises(SoftTimeLimitExceeded):
            services.outbox_send_many(message_ids=[r.pk for r in rows], window=20)
    states = [_status(r) for r in rows]
    assert states == [Status.SENT, Status.SENT, Status.PENDING, Status.PENDING, Status.PENDING]
    assert "SoftTimeLimitExceeded" in rows[2].last_error
    assert [r.attempts for r in rows[3:]] == [0, 0]  # never tried: released, due now
    assert all(r.next_attempt_at <= timezone.now() for r in rows[3:])
    services.outbox_sweep()
    assert _status(rows[3]) == Status.SENT
    assert not OutboxMessage.objects.filter(status=Status.FAILED).exists()


def test_soft_time_limit_right_after_acceptance_marks_the_mail_sent(mailoutbox):
    rows = [_mail(n) for n in range(3)]
    real_mark = delivery._mark_sent
    calls = {"n": 0}

    def mark(message_id):
        calls["n"] += 1
        if calls["n"] == 1:
            raise SoftTimeLimitExceeded  # the server said 250; the limit strikes now
        return real_mark(message_id)

    with mock.patch.object(delivery, "_mark_sent", mark):
        with pytest.raises(SoftTimeLimitExceeded):
            services.outbox_send_many(message_ids=[r.pk for r in rows], window=20)
    assert [_status(r) for r in rows] == [Status.SENT, Status.PENDING, Status.PENDING]
    assert len(mailoutbox) == 1


def test_any_exception_inside_send_is_retried_not_failed(mailoutbox):
    message = _mail(1)
    with mock.patch.object(EmailBackend, "send_messages", side_effect=RuntimeError("boom")):
        services.outbox_send_many(message_ids=[message.pk])
    assert _status(message) == Status.PENDING
    assert message.attempts == 1 and "RuntimeError" in message.last_error


def test_staff_retry_never_touches_accepted_mail(mailoutbox):
    sent_but_failed = _mail(1, status=Status.FAILED, sent_at=timezone.now())
    assert services.outbox_retry(message_ids=[sent_but_failed.pk]) == 0
    assert mailoutbox == []


def test_each_mail_is_marked_sent_when_accepted(mailoutbox):
    """A worker killed in the middle of a window leaves only the mail being sent in doubt."""
    rows = [_mail(n) for n in range(6)]
    real_send = EmailBackend.send_messages
    seen = []

    def send(self, messages):
        seen.append(list(OutboxMessage.objects.order_by("pk").values_list("status", flat=True)))
        return real_send(self, messages)

    with mock.patch.object(EmailBackend, "send_messages", send):
        services.outbox_send_many(message_ids=[r.pk for r in rows], window=20)
    # When the fourth mail goes out the first three are already marked sent.
    assert seen[3] == [Status.SENT] * 3 + [Status.SENDING] * 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_marks_from_the_second_connection_leave_only_the_mail_in_the_exchange_in_doubt(
    postgres, mailoutbox
):
    """On PostgreSQL outside a transaction the marks are made by a second connection while the
    next mail goes out: a kill in the middle leaves only the mail being sent claimed."""

    class WorkerKilled(BaseException):
        pass

    rows = [_mail(n) for n in range(8)]
    real_send = EmailBackend.send_messages
    calls = {"n": 0}

    def send(self, messages):
        calls["n"] += 1
        if calls["n"] == 6:
            raise WorkerKilled
        return real_send(self, messages)

    with mock.patch.object(EmailBackend, "send_messages", send):
        with pytest.raises(WorkerKilled):
            services.outbox_send_many(message_ids=[r.pk for r in rows], window=20)
    states = [_status(r) for r in rows]
    assert states == [Status.SENT] * 5 + [Status.SENDING] * 3
    assert services.outbox_send_many(message_ids=[r.pk for r in rows], window=20) == 0
    from django.db import connection

    connection.close()
