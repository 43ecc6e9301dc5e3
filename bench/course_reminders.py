"""Benchmark: the 1-hour reminder to 10,000 registrants, end to end through the task code.

Runs the beat task ``courses.reminders.sweep`` (selection, ledger claim in the outbox, batches
of ``COURSES_MAIL_BATCH_SIZE`` sent by ``core.outbox.send_many`` over one SMTP connection each)
with Django's SMTP backend against a local SMTP sink, and compares it with sending the same
10,000 messages (multipart text + HTML with the .ics attachment and the same headers, built
by hand as ``send_mass_mail`` does) over one connection, in the same run.
Limit (issue 6): reminders <= 1.5 x send_mass_mail, with SQL queries that grow with batches,
not recipients (the default claim window of 20). Also counts the SQL queries of the run.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/cqa_courses
    .venv/bin/python bench/course_reminders.py

Uses (and migrates) the database of DATABASE_URL; the data it creates is removed at the end.
Prints a table, then one JSON object as its last line.
"""

import asyncio
import json
import multiprocessing
import os
import socket
import sys
import time
from datetime import timedelta
from pathlib import Path

RECIPIENTS = int(os.environ.get("BENCH_RECIPIENTS", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
LIMIT = 1.5

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cqa_portal.settings.test")


# --- a local SMTP sink, in its own process -------------------------------------------------


def _sink(port, ready, counter):
    async def handle(reader, writer):
        writer.write(b"220 sink ESMTP\r\n")
        await writer.drain()
        in_data = False
        while True:
            line = await reader.readline()
            if not line:
                break
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    with counter.get_lock():
                        counter.value += 1
                    writer.write(b"250 2.0.0 queued\r\n")
                    await writer.drain()
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-sink\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                in_data = True
                writer.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 OK\r\n")
            await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the benchmark ---------------------------------------------------------------------------


def main():
    port = _free_port()
    counter = multiprocessing.Value("i", 0)
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=_sink, args=(port, ready, counter), daemon=True)
    sink.start()
    ready.wait(10)

    import django
    from django.conf import settings

    django.setup()
    import logging

    logging.getLogger("celery").setLevel(logging.WARNING)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    if os.environ.get("BENCH_WINDOW"):  # claim window of the batch sender (default 20)
        settings.COURSES_MAIL_CLAIM_WINDOW = int(os.environ["BENCH_WINDOW"])

    from django.core.mail import EmailMultiAlternatives, get_connection
    from django.core.mail.message import SafeMIMEText
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone, translation

    from courses import conf
    from courses.models import Registration, Session, Topic
    from courses.tasks import reminders_sweep_task
    from cqa_portal.core import mail
    from cqa_portal.core.models import OutboxMessage

    if connection.vendor != "postgresql":
        print("warning: not PostgreSQL; set DATABASE_URL for meaningful figures", file=sys.stderr)
    call_command("migrate", verbosity=0)

    topic, _ = Topic.objects.get_or_create(
        slug="bench", defaults={"name": "基准测试", "name_en": "Benchmark"}
    )
    start = timezone.now() + timedelta(minutes=55)
    session = Session.objects.create(
        title="基准测试：1 小时提醒",
        title_en="Benchmark: 1-hour reminder",
        topic=topic,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        platform="腾讯会议",
        join_url="https://meeting.example.com/j/bench",
    )
    confirmed_at = timezone.now() - timedelta(days=2)
    Registration.objects.bulk_create(
        [
            Registration(
                session=session,
                name=f"学员{i:05d}",
                email=f"bench{i:05d}@example.com",
                organisation="示例企业",
                status=Registration.Status.CONFIRMED,
                position=i + 1,
                confirmed_at=confirmed_at,
                language="zh-hans" if i % 5 else "en",
            )
            for i in range(RECIPIENTS)
        ],
        batch_size=2000,
    )
    registration_ids = list(session.registrations.values_list("pk", flat=True))
    reminder_keys = [
        f"courses.reminder:{pk}:{o}:0"
        for pk in registration_ids
        for o in conf.get().reminder_offsets
    ]
    hour_keys = [f"courses.reminder:{pk}:60:0" for pk in registration_ids]

    queries = {"n": 0}

    slow = []

    def count_queries(execute, sql, params, many, context):
        queries["n"] += 1
        if not os.environ.get("BENCH_SQL_TIMES"):
            return execute(sql, params, many, context)
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            slow.append((time.perf_counter() - began, sql[:90]))

    def clear_ledger():
        for i in range(0, len(reminder_keys), 5000):
            OutboxMessage.objects.filter(key__in=reminder_keys[i : i + 5000]).delete()

    rows = []
    try:
        for round_number in range(1, ROUNDS + 1):
            clear_ledger()
            before = counter.value
            queries["n"] = 0
            began = time.perf_counter()
            with connection.execute_wrapper(count_queries):
                if os.environ.get("BENCH_PROFILE"):
                    import cProfile
                    import pstats

                    profile = cProfile.Profile()
                    result = profile.runcall(reminders_sweep_task)
                    pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(25)
                else:
                    result = reminders_sweep_task()
            reminders_s = time.perf_counter() - began
            delivered = counter.value - before
            sql = queries["n"]
            if slow:
                from collections import defaultdict

                by_kind = defaultdict(lambda: [0, 0.0])
                for seconds, text in slow:
                    by_kind[text[:60]][0] += 1
                    by_kind[text[:60]][1] += seconds
                for text, (n, seconds) in sorted(by_kind.items(), key=lambda kv: -kv[1][1]):
                    print(f"{seconds:8.3f}s {n:6d}  {text}", file=sys.stderr)
                slow.clear()
            assert result["written"] == RECIPIENTS, result
            assert delivered == RECIPIENTS, delivered
            sent = OutboxMessage.objects.filter(
                key__in=hour_keys[:1000], status=OutboxMessage.Status.SENT
            ).count()
            assert sent == min(1000, RECIPIENTS), sent

            # The same 10,000 messages (as written by the task: text + HTML, Reply-To,
            # List-Unsubscribe, the .ics attachment, made once) sent as send_mass_mail does:
            # one connection, messages built by hand.
            rows_sent = []
            for i in range(0, len(hour_keys), 5000):
                rows_sent.extend(
                    OutboxMessage.objects.filter(key__in=hour_keys[i : i + 5000]).values_list(
                        "subject", "body", "html_body", "to", "attachment"
                    )
                )
            with translation.override("zh-hans"):
                ics = mail.build_attachment(rows_sent[0][4])
            before = counter.value
            began = time.perf_counter()
            messages = []
            for subject, body, html_body, to, _ref in rows_sent:
                message = EmailMultiAlternatives(
                    subject,
                    body,
                    settings.DEFAULT_FROM_EMAIL,
                    [to],
                    reply_to=[settings.PORTAL["email"]],
                    headers={
                        "List-Unsubscribe": "<https://example.org/mail/unsubscribe/x/>",
                        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    },
                )
                message.attach_alternative(html_body, "text/html")
                part = SafeMIMEText(ics[1], ics[2], "utf-8")
                part.set_param("method", "PUBLISH")
                part.add_header("Content-Disposition", "attachment", filename=ics[0])
                message.attach(part)
                messages.append(message)
            get_connection(fail_silently=False).send_messages(messages)
            mass_s = time.perf_counter() - began
            assert counter.value - before == RECIPIENTS
            rows.append((round_number, mass_s, reminders_s, sql))
    finally:
        clear_ledger()
        Registration.objects.filter(session=session).delete()
        session.delete()
        sink.terminate()

    batch_size = conf.get().mail_batch_size
    batches = -(-RECIPIENTS // batch_size)
    print(f"{'round':>5} {'send_mass_mail s':>17} {'reminders s':>12} {'ratio':>6} {'SQL':>7}")
    for round_number, mass_s, reminders_s, sql in rows:
        print(
            f"{round_number:>5} {mass_s:>17.2f} {reminders_s:>12.2f} "
            f"{reminders_s / mass_s:>6.2f} {sql:>7}"
        )
    best_mass = min(r[1] for r in rows)
    best_reminders = min(r[2] for r in rows)
    ratio = best_reminders / best_mass
    sql = rows[-1][3]
    print(
        f"recipients {RECIPIENTS}, batches of {batch_size}: {batches}, "
        f"claim window {conf.get().mail_claim_window}; "
        f"best ratio {ratio:.2f} (limit {LIMIT}); SQL queries {sql}"
    )
    print(
        json.dumps(
            {
                "benchmark": "course_reminders",
                "database": connection.vendor,
                "recipients": RECIPIENTS,
                "batch_size": batch_size,
                "batches": batches,
                "claim_window": conf.get().mail_claim_window,
                "send_mass_mail_s": round(best_mass, 3),
                "reminders_s": round(best_reminders, 3),
                "ratio": round(ratio, 3),
                "limit": LIMIT,
                "ratio_to_limit": round(ratio / LIMIT, 3),
                "sql_queries": sql,
                "sql_queries_per_recipient": round(sql / RECIPIENTS, 3),
                "within_limit": ratio <= LIMIT,
            }
        )
    )


if __name__ == "__main__":
    main()
