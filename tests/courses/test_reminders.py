from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from courses import services
from courses.models import Registration, Session
from courses.tasks import reminders_sweep_task
from cqa_portal.core import services as core_services
from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.tasks import outbox_send_many_task
from tests.factories import StaffFactory

from .factories import RegistrationFactory, SessionFactory

pytestmark = pytest.mark.django_db


def _session_in(delta, **kwargs):
    start = timezone.now() + delta
    return SessionFactory(starts_at=start, ends_at=start + timedelta(minutes=90), **kwargs)


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return services.reminders_sweep(**kwargs)

    return run


def test_due_reminder_goes_once_with_the_join_link(sweep, mailoutbox):
    session = _session_in(timedelta(hours=24) - timedelta(minutes=3))
    confirmed = RegistrationFactory.create_batch(3, session=session)
    RegistrationFactory(session=session, status=Registration.Status.WAITING)
    RegistrationFactory(session=session, status=Registration.Status.PENDING)
    RegistrationFactory(session=session, status=Registration.Status.CANCELLED)
    run = sweep()
    assert (run.written, run.queued, run.batches) == (3, 3, 1)
    assert sorted(m.to[0] for m in mailoutbox) == sorted(r.email for r in confirmed)
    mail = mailoutbox[0]
    assert mail.subject.startswith("[中国质量协会] 开课提醒")
    assert "将于明天开始" in mail.body
    assert session.join_url in mail.body
    assert "/courses/registration/" in mail.body  # the cancel link
    # The beat runs again (every few minutes, inside the window): nothing more.
    for minutes in (0, 5, 10):
        again = sweep(now=timezone.now() + timedelta(minutes=minutes))
        assert again.written == 0
    assert len(mailoutbox) == 3
    keys = set(
        OutboxMessage.objects.filter(purpose="courses.reminder").values_list("key", flat=True)
    )
    assert keys == {f"courses.reminder:{r.pk}:1440:0" for r in confirmed}


def test_one_hour_reminder(sweep, mailoutbox):
    session = _session_in(timedelta(minutes=55))
    RegistrationFactory(session=session, language="en")
    sweep()
    [mail] = mailoutbox
    assert (
        mail.subject
        == f"[China Association for Quality] Reminder: {session.title_en} starts in one hour"
    )
    assert session.join_url in mail.body


def test_not_due_yet_sends_nothing(sweep, mailoutbox):
    RegistrationFactory(session=_session_in(timedelta(hours=30)))
    RegistrationFactory(session=_session_in(timedelta(hours=3)))
    assert sweep().written == 0
    assert mailoutbox == []


def test_reminder_whose_moment_passed_long_ago_is_skipped_not_sent_late(sweep, mailoutbox):
    # The 24-hour moment was two hours ago (the beat was down): no "tomorrow" mail now.
    RegistrationFactory(session=_session_in(timedelta(hours=22)))
    # Starting in 10 minutes: the 1-hour moment is 50 minutes past, beyond the grace window.
    RegistrationFactory(session=_session_in(timedelta(minutes=10)))
    assert sweep().written == 0
    assert mailoutbox == []


def test_cancelled_session_gets_no_reminders(sweep, mailoutbox):
    session = _session_in(timedelta(minutes=50), status=Session.Status.CANCELLED)
    RegistrationFactory(session=session)
    assert sweep().written == 0


def test_registration_confirmed_after_the_moment_gets_no_reminder(sweep, mailoutbox):
    session = _session_in(timedelta(minutes=50))
    RegistrationFactory(session=session, confirmed_at=timezone.now() - timedelta(minutes=5))
    assert sweep().written == 0  # they just got the confirmation with the join link


def test_moved_session_is_reminded_again_at_its_new_time(sweep, mailoutbox):
    session = _session_in(timedelta(minutes=50))
    RegistrationFactory(session=session)
    sweep()
    assert len(mailoutbox) == 1
    session.starts_at = timezone.now() + timedelta(minutes=58)
    session.ends_at = session.starts_at + timedelta(hours=1)
    services.session_save(session=session, actor=StaffFactory())
    mailoutbox.clear()
    sweep()
    assert [m.subject.startswith("[中国质量协会] 开课提醒") for m in mailoutbox] == [True]


def test_written_reminders_not_sent_in_time_are_expired_not_sent_late(mailoutbox):
    session = _session_in(timedelta(minutes=50))
    RegistrationFactory(session=session)
    # The sweep writes the reminder but the mail workers are down (nothing runs on commit).
    services.reminders_sweep()
    message = OutboxMessage.objects.get(purpose="courses.reminder")
    assert message.status == OutboxMessage.Status.PENDING
    # Two hours later the workers are back: the reminder is dropped, never sent.
    later = timezone.now() + timedelta(hours=2)
    run = services.reminders_sweep(now=later)
    assert run.expired == 1
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.EXPIRED
    assert "deadline passed" in message.last_error
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert core_services.outbox_sweep() == 0
    assert mailoutbox == []


def test_reminder_carries_its_deadline_and_a_claimed_one_past_it_is_never_sent(mailoutbox):
    session = _session_in(timedelta(minutes=50))
    RegistrationFactory(session=session)
    services.reminders_sweep()
    message = OutboxMessage.objects.get(purpose="courses.reminder")
    due = session.starts_at - timedelta(minutes=60)
    assert message.deadline == due + timedelta(minutes=30)
    # A worker claimed it and died; after the deadline neither sweep sends it.
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.SENDING, claimed_at=timezone.now()
    )
    later = message.deadline + timedelta(seconds=1)
    assert services.reminders_sweep(now=later).expired == 1
    with mock.patch("django.utils.timezone.now", return_value=later + timedelta(minutes=11)):
        assert core_services.outbox_sweep() == 0
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.EXPIRED
    assert mailoutbox == []


def test_cancelled_registration_loses_its_pending_reminder(mailoutbox):
    session = _session_in(timedelta(minutes=50))
    registration = RegistrationFactory(session=session)
    services.reminders_sweep()  # written, not yet sent
    services.registration_cancel(registration_id=registration.pk)
    assert OutboxMessage.objects.get(purpose="courses.reminder").status == "failed"


class WorkerKilled(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the sender catches it."""


@pytest.mark.parametrize("window", [1, 20])
def test_batch_killed_mid_send_then_retried_sends_nothing_twice_and_loses_nothing(
    mailoutbox, settings, window
):
    settings.COURSES_MAIL_BATCH_SIZE = 50
    settings.COURSES_MAIL_CLAIM_WINDOW = window
    session = _session_in(timedelta(minutes=50))
    registrations = RegistrationFactory.create_batch(120, session=session)
    batches = []
    with mock.patch.object(
        outbox_send_many_task,
        "delay_on_commit",
        side_effect=lambda ids, window: batches.append((ids, window)),
    ):
        run = services.reminders_sweep()
    assert run.written == 120
    assert [(len(ids), w) for ids, w in batches] == [(50, window), (50, window), (20, window)]

    # The worker sends 30 mails of the first batch, then is killed while sending the 31st.
    from django.core.mail.backends.locmem import EmailBackend

    real_send = EmailBackend.send_messages
    sent = {"n": 0}

    def dying_send(self, messages):
        if sent["n"] == 30:
            raise WorkerKilled
        sent["n"] += 1
        return real_send(self, messages)

    with mock.patch.object(EmailBackend, "send_messages", dying_send):
        with pytest.raises(WorkerKilled):
            outbox_send_many_task(*batches[0])
    assert len(mailoutbox) == 30

    # The broker redelivers the batch (acks_late) and the other batches run: nothing twice.
    for batch in batches:
        outbox_send_many_task(*batch)
    recipients = [m.to[0] for m in mailoutbox]
    assert len(recipients) == len(set(recipients))
    # The claimed window of the killed worker waits: with window=1 only the mail being sent.
    in_doubt = OutboxMessage.objects.filter(status=OutboxMessage.Status.SENDING).count()
    assert 1 <= in_doubt <= window
    assert 120 - in_doubt <= len(recipients) < 120
    # The beat runs again: nothing is written or sent twice.
    assert services.reminders_sweep().written == 0
    # After the stale-claim window the outbox sweep sends what was in doubt: nobody is left
    # out; each mail is marked sent as soon as it is accepted, so only the one in the SMTP
    # exchange at the kill could be transmitted twice (here it was not transmitted).
    later = timezone.now() + timedelta(minutes=11)
    with mock.patch("django.utils.timezone.now", return_value=later):
        core_services.outbox_sweep()
    recipients = [m.to[0] for m in mailoutbox]
    assert set(recipients) == {r.email for r in registrations}
    duplicates = len(recipients) - len(set(recipients))
    assert duplicates == 0


def test_many_registrants_batched_over_few_connections_and_queries(sweep, mailoutbox, settings):
    settings.COURSES_MAIL_BATCH_SIZE = 100
    few = _session_in(timedelta(minutes=50))
    RegistrationFactory.create_batch(20, session=few)
    with mock.patch.object(outbox_send_many_task, "delay_on_commit"):
        with CaptureQueriesContext(connection) as small:
            services.reminders_sweep()
    OutboxMessage.objects.all().delete()
    Session.objects.filter(pk=few.pk).update(status=Session.Status.CANCELLED)
    many = _session_in(timedelta(minutes=45))
    RegistrationFactory.create_batch(450, session=many)
    with mock.patch.object(outbox_send_many_task, "delay_on_commit"):
        with CaptureQueriesContext(connection) as large:
            run = services.reminders_sweep()
    assert run.written == 450

    # Writing (claiming) reminders costs queries per batch, not per registrant.
    # Writing (claiming) reminders costs queries per batch, not per registrant: the same
    # statements for 20 and 450, apart from the multi-row INSERTs (on SQLite its limit of
    # variables splits a batch of 500 into INSERTs of about 90 rows).
    def shape(queries):
        return [q["sql"].split()[0] for q in queries if not q["sql"].startswith("INSERT")]

    assert shape(large.captured_queries) == shape(small.captured_queries)
    inserts = [q for q in large.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) <= 450 // 80 + 1

    OutboxMessage.objects.filter(purpose="courses.reminder").delete()
    with mock.patch(
        "cqa_portal.core.services.delivery.get_connection",
        wraps=core_services.delivery.get_connection,
    ) as get_connection:
        sweep()
    assert len(mailoutbox) == 450
    assert get_connection.call_count == 5  # 450 mails in batches of 100, one connection each


def test_task_and_beat_entry():
    from cqa_portal.celery import app

    entry = app.conf.beat_schedule["courses-reminders-sweep"]
    assert entry["task"] == "courses.reminders.sweep" == reminders_sweep_task.name
    assert entry["schedule"] <= 600
    assert app.conf.beat_schedule["courses-sessions-close"]["task"] in app.tasks
    assert reminders_sweep_task() == {"written": 0, "queued": 0, "expired": 0}


def test_finished_sessions_are_closed():
    start = timezone.now() - timedelta(hours=3)
    over = SessionFactory(starts_at=start, ends_at=start + timedelta(hours=1))
    running = _session_in(timedelta(minutes=-10))
    assert services.sessions_close_finished() == 1
    over.refresh_from_db()
    running.refresh_from_db()
    assert over.status == Session.Status.ENDED
    assert running.status == Session.Status.SCHEDULED
    assert services.sessions_close_finished() == 0
