"""Registration burst: 200 simultaneous one-click registrations over HTTP for a 100-seat session.

Limit (issue 7, issue 6): correctness, not speed. Through gunicorn (the Procfile's 3 sync
workers) on PostgreSQL and Redis, 200 logged-in members press "register" at the same moment
for a session with 100 seats: exactly 100 confirmed, 100 on the waiting list (places 1..100,
after every confirmed seat in the queue), no 5xx answer, no duplicate registration, and one
confirmation or waiting-list mail written per person.

The benchmark writes a topic, a session 7 days ahead with 100 seats, 200 users and a logged-in
session for each (created server-side; the client sends the session cookie and a CSRF cookie
with the matching form token, as a browser does), starts gunicorn on a free loopback port and
releases 200 client threads together behind a barrier, each sending one
``POST /courses/<id>/register/`` on its own connection. Wall time and per-request latency are
measured from the barrier's release to the last byte of the answer. At the end it deletes
everything it wrote: registrations, audit entries, outbox rows, the mail tasks the server
published to the broker (REDIS_URL), login sessions, users, the session and the topic.

Run alone: ``.venv/bin/python bench/registration_burst.py``. Prints a table, then one JSON
object as the last line.
"""

import base64
import collections
import json
import os
import statistics
import sys
import threading
import time
from datetime import timedelta

from _server import USUAL_WORKERS, free_port, request, start_server, status_of, stop_server
from _setup import django_setup

SEATS = 100
PEOPLE = 200
WORKERS = int(os.environ.get("BENCH_WORKERS", str(USUAL_WORKERS)))
TOPIC_SLUG = "bench-registration-burst"
EMAIL_PATTERN = "bench-burst-{n}@example.com"
USERNAME_PREFIX = "bench-burst-"


# --- data ---------------------------------------------------------------------------------


def seed() -> tuple[int, list[dict]]:
    """The session and the people; returns the session id and each person's cookies."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from courses.models import Session, Topic

    cleanup()
    User = get_user_model()
    store = import_module(settings.SESSION_ENGINE).SessionStore
    with transaction.atomic():
        topic = Topic.objects.create(
            name="基准测试：报名高峰", name_en="Benchmark: registration burst", slug=TOPIC_SLUG
        )
        starts = (timezone.now() + timedelta(days=7)).replace(second=0, microsecond=0)
        session = Session.objects.create(
            title="基准测试：100 个座位的直播课",
            title_en="Benchmark: a live course with 100 seats",
            topic=topic,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=90),
            platform="腾讯会议",
            join_url="https://meeting.example.com/j/bench-burst",
            capacity=SEATS,
        )
        User.objects.bulk_create(
            User(
                username=f"{USERNAME_PREFIX}{n}",
                email=EMAIL_PATTERN.format(n=n),
                first_name=f"报名者{n}",
                password=make_password(None),  # no password: logged in by session only
            )
            for n in range(PEOPLE)
        )
    people = []
    for user in User.objects.filter(username__startswith=USERNAME_PREFIX).order_by("pk"):
        login = store()
        login[SESSION_KEY] = user._meta.pk.value_to_string(user)
        login[BACKEND_SESSION_KEY] = "cqa_portal.core.backends.ModelBackend"
        login[HASH_SESSION_KEY] = user.get_session_auth_hash()
        login.create()
        csrf = get_random_string(32)
        people.append(
            {
                "user_id": user.pk,
                "email": user.email,
                "cookie": f"{settings.SESSION_COOKIE_NAME}={login.session_key}; "
                f"{settings.CSRF_COOKIE_NAME}={csrf}",
                "body": f"csrfmiddlewaretoken={csrf}".encode(),
            }
        )
    return session.pk, people


def cleanup(people: list[dict] | None = None) -> dict:
    """Delete everything the benchmark wrote; returns what was deleted."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction

    from courses.models import Registration, Session, Topic
    from cqa_portal.core.models import AuditEntry, OutboxMessage

    User = get_user_model()
    deleted = {}
    users = User.objects.filter(username__startswith=USERNAME_PREFIX)
    emails = list(users.values_list("email", flat=True))
    registrations = Registration.objects.filter(session__topic__slug=TOPIC_SLUG)
    with transaction.atomic():
        outbox_ids = list(OutboxMessage.objects.filter(to__in=emails).values_list("pk", flat=True))
        deleted["broker_tasks"] = _drop_broker_tasks(set(outbox_ids))
        deleted["outbox"] = OutboxMessage.objects.filter(pk__in=outbox_ids).delete()[0]
        deleted["audit"] = AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Registration),
            object_id__in=[str(pk) for pk in registrations.values_list("pk", flat=True)],
        ).delete()[0]
        deleted["registrations"] = registrations.delete()[0]
        Session.objects.filter(topic__slug=TOPIC_SLUG).delete()
        Topic.objects.filter(slug=TOPIC_SLUG).delete()
        if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db":
            from django.contrib.sessions.models import Session as LoginSession

            keys = [p["cookie"].split(";")[0].split("=", 1)[1] for p in people or []]
            deleted["logins"] = LoginSession.objects.filter(session_key__in=keys).delete()[0]
        else:
            store = import_module(settings.SESSION_ENGINE).SessionStore
            for person in people or []:
                store(person["cookie"].split(";")[0].split("=", 1)[1]).delete()
        deleted["users"] = users.count()
        users.delete()
    return deleted


def _drop_broker_tasks(outbox_ids: set[int]) -> int:
    """Remove the ``core.outbox.send`` tasks for our outbox rows from the broker's mail queue
    (no worker consumes them during the benchmark; the rows are deleted)."""
    from django.conf import settings

    url = getattr(settings, "CELERY_BROKER_URL", "")
    if not outbox_ids or not url.startswith("redis"):
        return 0
    import redis

    client = redis.Redis.from_url(url)
    removed = 0
    queues = [k for k in client.scan_iter(match="mail*") if client.type(k) == b"list"]
    for queue in queues:
        for raw in client.lrange(queue, 0, -1):
            try:
                message = json.loads(raw)
                body = message["body"]
                if message.get("properties", {}).get("body_encoding") == "base64":
                    body = base64.b64decode(body)
                args = json.loads(body)[0]
                task = message["headers"]["task"]
            except (ValueError, KeyError, IndexError, TypeError):
                continue
            if task == "core.outbox.send" and args and args[0] in outbox_ids:
                removed += client.lrem(queue, 1, raw)
    return removed


# --- the burst ----------------------------------------------------------------------------


def burst(port: int, session_id: int, people: list[dict]) -> tuple[list, float]:
    """Release one thread per person together; returns (status, latency) per request."""
    released = [0.0]
    barrier = threading.Barrier(
        len(people) + 1, action=lambda: released.__setitem__(0, time.monotonic())
    )
    results: list = [None] * len(people)
    path = f"/courses/{session_id}/register/"
    origin = f"http://127.0.0.1:{port}"

    def post(index: int, person: dict) -> None:
        headers = {
            "Host": f"127.0.0.1:{port}",
            "Origin": origin,
            "Cookie": person["cookie"],
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept-Language": "zh-CN,zh;q=0.9",
        }
        barrier.wait()
        try:
            response = request(
                port, path, method="POST", headers=headers, body=person["body"], timeout=120
            )
            status = status_of(response)
        except OSError as exc:
            status = f"error: {type(exc).__name__}"
        results[index] = (status, time.monotonic() - released[0])

    threads = [
        threading.Thread(target=post, args=(n, person), daemon=True)
        for n, person in enumerate(people)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    for thread in threads:
        thread.join(timeout=180)
    wall = time.monotonic() - released[0]
    return results, wall


def check(session_id: int, people: list[dict]) -> dict:
    """What the database holds after the burst."""
    from django.db.models import Count

    from courses import services
    from courses.models import Registration
    from cqa_portal.core.models import OutboxMessage

    rows = list(
        Registration.objects.filter(session_id=session_id)
        .order_by("position", "pk")
        .values("pk", "user_id", "email", "status", "position")
    )
    by_status = collections.Counter(r["status"] for r in rows)
    duplicates = (
        Registration.objects.filter(session_id=session_id)
        .values("user_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    waiting = Registration.objects.filter(session_id=session_id, status="waiting").order_by(
        "position"
    )
    places = [services.waiting_place(r) for r in waiting]
    statuses_in_queue = [r["status"] for r in rows]
    user_ids = {p["user_id"] for p in people}
    mails = collections.Counter(
        OutboxMessage.objects.filter(to__in=[p["email"] for p in people]).values_list(
            "to", flat=True
        )
    )
    return {
        "registrations": len(rows),
        "confirmed": by_status.get("confirmed", 0),
        "waiting": by_status.get("waiting", 0),
        "other_status": sum(v for k, v in by_status.items() if k not in ("confirmed", "waiting")),
        "duplicate_registrations": duplicates,
        "people_registered": len({r["user_id"] for r in rows} & user_ids),
        "waiting_places_ok": places == list(range(1, len(places) + 1)),
        "queue_order_ok": statuses_in_queue
        == ["confirmed"] * by_status.get("confirmed", 0) + ["waiting"] * by_status.get("waiting", 0)
        and [r["position"] for r in rows] == list(range(1, len(rows) + 1)),
        "mails_written": sum(mails.values()),
        "people_with_one_mail": sum(1 for n in mails.values() if n == 1),
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(int(round(q / 100 * (len(ordered) - 1))), len(ordered) - 1)
    return ordered[index]


def main() -> dict:
    django_setup()
    from django.db import connection

    session_id, people = seed()
    connection.close()
    port = free_port()
    server = start_server(port, workers=WORKERS)
    try:
        results, wall = burst(port, session_id, people)
    finally:
        stop_server(server)
    try:
        found = check(session_id, people)
    finally:
        deleted = cleanup(people)
    histogram = collections.Counter(str(r[0]) if r else "no answer" for r in results)
    latencies = [r[1] for r in results if r and isinstance(r[0], int) and r[0]]
    server_errors = sum(n for s, n in histogram.items() if s.startswith("5"))
    failures = sum(n for s, n in histogram.items() if not s.isdigit())
    within = (
        found["confirmed"] == SEATS
        and found["waiting"] == PEOPLE - SEATS
        and found["other_status"] == 0
        and found["registrations"] == PEOPLE
        and found["people_registered"] == PEOPLE
        and found["duplicate_registrations"] == 0
        and found["waiting_places_ok"]
        and found["queue_order_ok"]
        and found["people_with_one_mail"] == PEOPLE == found["mails_written"]
        and server_errors == 0
        and failures == 0
        and histogram.get("302", 0) == PEOPLE
    )
    figures = {
        "benchmark": "registration_burst",
        "database": connection.vendor,
        "seats": SEATS,
        "requests": PEOPLE,
        "gunicorn_workers": WORKERS,
        "cpus": os.cpu_count(),
        **found,
        "status_histogram": dict(sorted(histogram.items())),
        "server_errors": server_errors,
        "client_errors": failures,
        "burst_seconds": round(wall, 3),
        "requests_per_second": round(PEOPLE / wall, 1),
        "latency_p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "latency_p95_ms": round(_percentile(latencies, 95) * 1000, 1) if latencies else None,
        "latency_p99_ms": round(_percentile(latencies, 99) * 1000, 1) if latencies else None,
        "limit": f"{SEATS} confirmed / {PEOPLE - SEATS} waiting / 0 5xx",
        "ratio_to_limit": f"{found['confirmed']}/{found['waiting']}/{server_errors}",
        "within_limit": within,
        "cleaned_up": deleted,
    }
    print(f"{'measure':<28}{'value':>14}")
    for key in ("requests", "seats", "gunicorn_workers", "confirmed", "waiting", "other_status",
                "duplicate_registrations", "waiting_places_ok", "queue_order_ok",
                "mails_written", "server_errors", "client_errors", "burst_seconds",
                "requests_per_second", "latency_p50_ms", "latency_p95_ms",
                "latency_p99_ms"):  # fmt: skip
        print(f"{key:<28}{figures[key]!s:>14}")
    for status, count in figures["status_histogram"].items():
        print(f"{'HTTP ' + status:<28}{count:>14}")
    print(json.dumps(figures, ensure_ascii=False))
    return figures


if __name__ == "__main__":
    sys.exit(0 if main()["within_limit"] else 1)
