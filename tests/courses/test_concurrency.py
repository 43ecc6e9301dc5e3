"""Seats under concurrency, with real threads on PostgreSQL (each thread its own connection).

PostgreSQL allows 100 connections and other test runs share the server, so 32 threads carry
the 200 registrations; they all start together behind a barrier and hammer the same session.
"""

import queue
import threading

from django.db import connection

from courses import services
from courses.models import Registration
from tests.factories import UserFactory

from .factories import SessionFactory

THREADS = 32


def _hammer(work, jobs):
    """Run ``work(job)`` for every job from THREADS threads started at the same moment."""
    pending = queue.Queue()
    for job in jobs:
        pending.put(job)
    barrier = threading.Barrier(THREADS)
    errors, results = [], []
    lock = threading.Lock()

    def worker():
        try:
            barrier.wait()
            while True:
                try:
                    job = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    result = work(job)
                except Exception as exc:  # noqa: BLE001 - collected and asserted empty
                    with lock:
                        errors.append(exc)
                else:
                    with lock:
                        results.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return results, errors


def test_200_simultaneous_registrations_for_100_seats(postgres, transactional_db, mailoutbox):
    session = SessionFactory(capacity=100)
    users = UserFactory.create_batch(200)
    jobs = [*users, *users[:20]]  # 20 people click twice at the same time

    def register(user):
        return services.registration_register_user(
            session_id=session.pk, user=user, language="zh-hans"
        ).status

    results, errors = _hammer(register, jobs)
    assert errors == []
    assert len(results) == 220
    registrations = Registration.objects.filter(session=session)
    assert registrations.count() == 200  # no duplicates
    assert registrations.filter(status="confirmed").count() == 100
    assert registrations.filter(status="waiting").count() == 100
    positions = list(registrations.order_by("position").values_list("position", flat=True))
    assert positions == list(range(1, 201))
    # Seats went to the first 100 in the queue, the waiting list is the rest, in order.
    statuses = list(registrations.order_by("position").values_list("status", flat=True))
    assert statuses == ["confirmed"] * 100 + ["waiting"] * 100
    # One mail per registration (confirmation or waiting-list notice), none twice.
    assert sorted(m.to[0] for m in mailoutbox) == sorted(u.email for u in users)


def test_simultaneous_cancellations_promote_exactly_the_freed_seats(
    postgres, transactional_db, mailoutbox
):
    session = SessionFactory(capacity=40)
    users = UserFactory.create_batch(80)
    for user in users:
        services.registration_register_user(session_id=session.pk, user=user, language="en")
    seats = list(
        Registration.objects.filter(session=session, status="confirmed").values_list(
            "pk", flat=True
        )
    )
    newcomers = UserFactory.create_batch(30)

    def act(job):
        kind, value = job
        if kind == "cancel":
            return services.registration_cancel(registration_id=value).status
        return services.registration_register_user(
            session_id=session.pk, user=value, language="en"
        ).status

    jobs = [("cancel", pk) for pk in seats[:25]] + [("register", u) for u in newcomers]
    results, errors = _hammer(act, jobs)
    assert errors == []
    registrations = Registration.objects.filter(session=session)
    assert registrations.filter(status="confirmed").count() == 40
    assert registrations.filter(status="cancelled").count() == 25
    assert registrations.filter(status="waiting").count() == 80 + 30 - 40 - 25
    # Whoever holds a seat joined the queue before everyone still waiting.
    last_seat = max(registrations.filter(status="confirmed").values_list("position", flat=True))
    first_waiting = min(registrations.filter(status="waiting").values_list("position", flat=True))
    assert last_seat < first_waiting
