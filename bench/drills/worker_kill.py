"""Drill: the Celery worker is SIGKILLed in the middle of a 5,000-recipient reminder batch.

Done: in a database of the drill's own (``cqa_drills``, kept; the drill's rows are deleted at the
end) one session starting in an hour has 5,000 confirmed registrants. A Redis server of the
drill's own is the broker and a real SMTP server (aiosmtpd, in this process) is the mail
server. A real worker (``celery worker -Q mail,default --concurrency 1``, stale-claim window
5 s) runs the beat's reminder sweep, which writes the reminders to the outbox and enqueues the
batches. When about a third of the mails have reached the SMTP server the worker and its pool
are SIGKILLed from outside (wherever the worker is) and a new worker is started; at two thirds
the SMTP server itself kills that one in the worst moment, after receiving a mail and before
answering 250, and a third worker is started. Then the beat's outbox sweep is sent until every
reminder is sent (waiting past the stale-claim window for the mails the dead workers claimed).

Checked: every registrant's mailbox holds exactly one reminder, counted as distinct Message-IDs
per recipient (the outbox gives each row one Message-ID, so a mail the SMTP server accepted just
before the kill and that is sent again after restart is a retransmission of the same message);
no registrant without one; every reminder row in the outbox is sent; the raw number of SMTP
transmissions, transmissions per recipient (target 1.00) and how many were retransmissions (at
most one per kill: each mail is marked sent as soon as the server accepts it, so only the mail
in the SMTP exchange at a kill is in doubt; the one at the second kill is transmitted twice
with one Message-ID). Before (the batch marked a whole claim window of 20 at once) a kill
re-sent up to 20 mails.

Run alone: ``.venv/bin/python bench/drills/worker_kill.py`` (or ``make drills``). Prints what it
did and checked, then one JSON object as its last line; exits 1 if a check failed.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import threading
import time
from datetime import timedelta
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Worker, drill_env, prepare  # noqa: E402

from tests.drills.own_redis import OwnRedis  # noqa: E402
from tests.drills.smtp_sink import SinkHandler, SmtpSink  # noqa: E402

REGISTRANTS = int(os.environ.get("DRILL_REGISTRANTS", "5000"))
# Each kill: the share of the mails in the SMTP server when it happens, and where it lands.
# "outside": this process SIGKILLs the worker as soon as it sees the count, wherever the worker
# is (usually between two mails: claiming the next one). "in_smtp": the SMTP server, having
# received the whole mail, kills the worker before answering 250 - the worst moment, when the
# mail is delivered but its outbox row is still only claimed.
KILLS = ((1 / 3, "outside"), (2 / 3, "in_smtp"))
STALE_CLAIM_SECONDS = 5
TOPIC_SLUG = "drill-worker-kill"
PREFIX = "drill-worker-kill-"
EMAIL_PATTERN = PREFIX + "{n}@example.com"


class MailboxHandler(SinkHandler):
    """The sink's handler, also recording each transmission's recipient and Message-ID, and
    able to kill the worker in the middle of an SMTP exchange (``arm``)."""

    def __init__(self):
        super().__init__()
        self.transmissions: list[tuple[str, str, str]] = []  # (recipient, Message-ID, key)
        self.lock = threading.Lock()
        self.kill_at: int | None = None
        self.on_kill = None
        self.killed = threading.Event()
        self.killed_during: tuple[str, str, str] | None = None
        self.delay = 0.0  # seconds the server takes to answer each mail (a slow server)
        self.arrivals: list[float] = []  # time.monotonic() of each transmission

    def arm(self, count: int, on_kill) -> None:
        """Call ``on_kill`` once the ``count``-th mail is received, before answering it."""
        self.killed.clear()
        self.on_kill = on_kill
        self.kill_at = count

    async def handle_DATA(self, server, session, envelope):
        headers = BytesHeaderParser().parsebytes(envelope.original_content or envelope.content)
        message_id = (headers.get("Message-ID") or "").strip()
        # The decoded subject, to check that every mail is a reminder.
        key = str(make_header(decode_header(headers.get("Subject") or "")))
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.transmissions.append((rcpt.lower(), message_id, key))
                self.arrivals.append(time.monotonic())
        if self.kill_at is not None and len(self.transmissions) >= self.kill_at:
            self.kill_at = None
            self.killed_during = self.transmissions[-1]
            self.on_kill()  # the sender dies before it reads our 250
            self.killed.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)

    def count(self) -> int:
        return len(self.transmissions)


class MailboxSink(SmtpSink):
    def __init__(self):
        from aiosmtpd.controller import Controller

        super().__init__()
        self.handler = MailboxHandler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)


def say(text: str) -> None:
    print(text, flush=True)


# --- data ---------------------------------------------------------------------------------


def seed() -> int:
    from django.db import transaction
    from django.utils import timezone

    from courses.models import Registration, Session, Topic

    cleanup()
    now = timezone.now()
    # Due for the 1-hour reminder now: start - 60 min <= now < start - 60 min + grace.
    starts = (now + timedelta(minutes=60)).replace(second=0, microsecond=0)
    with transaction.atomic():
        topic = Topic.objects.create(
            name="演练：工作进程被杀", name_en="Drill: worker killed", slug=TOPIC_SLUG
        )
        session = Session.objects.create(
            title="演练：5000 人的直播课",
            title_en="Drill: a live course with 5,000 registrants",
            topic=topic,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=90),
            platform="腾讯会议",
            join_url="https://meeting.example.com/j/drill-worker-kill",
        )
        Registration.objects.bulk_create(
            (
                Registration(
                    session=session,
                    name=f"演练学员{n}",
                    email=EMAIL_PATTERN.format(n=n),
                    status=Registration.Status.CONFIRMED,
                    position=n + 1,
                    language="zh-hans" if n % 5 else "en",
                    confirmed_at=now - timedelta(days=1),
                )
                for n in range(REGISTRANTS)
            ),
            batch_size=2000,
        )
    return session.pk


def cleanup() -> dict:
    from django.db import transaction

    from courses.models import Registration, Session, Topic
    from cqa_portal.core.models import OutboxMessage

    with transaction.atomic():
        outbox = OutboxMessage.objects.filter(to__startswith=PREFIX).delete()[0]
        registrations = Registration.objects.filter(session__topic__slug=TOPIC_SLUG).delete()[0]
        Session.objects.filter(topic__slug=TOPIC_SLUG).delete()
        Topic.objects.filter(slug=TOPIC_SLUG).delete()
    return {"outbox": outbox, "registrations": registrations}


def outbox_states() -> dict[str, int]:
    from django.db.models import Count

    from cqa_portal.core.models import OutboxMessage

    rows = (
        OutboxMessage.objects.filter(to__startswith=PREFIX, purpose="courses.reminder")
        .values("status")
        .annotate(n=Count("pk"))
    )
    return {row["status"]: row["n"] for row in rows}


# --- the drill ----------------------------------------------------------------------------


def drill() -> dict:
    started = time.monotonic()
    redis = OwnRedis().start()
    sink = MailboxSink()
    sink.controller.start()
    handler = sink.handler
    extra = {
        "REDIS_URL": redis.url,
        "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}",
        "OUTBOX_STALE_CLAIM_SECONDS": str(STALE_CLAIM_SECONDS),
    }
    worker = Worker(drill_env(**extra), name="worker-kill")
    figures: dict = {"drill": "worker_kill", "registrants": REGISTRANTS, "kills": []}
    try:
        created = prepare(**extra)
        from django.conf import settings
        from django.db import connection

        from courses import conf
        from courses.tasks import reminders_sweep_task
        from cqa_portal.core.tasks import outbox_sweep_task

        say(
            f"database {settings.DATABASES['default']['NAME']}"
            f"{' (created)' if created else ''}, broker {redis.url}, "
            f"SMTP sink 127.0.0.1:{sink.port}, stale-claim window "
            f"{settings.OUTBOX_STALE_CLAIM_SECONDS}s, batches of {conf.get().mail_batch_size}, "
            f"claim window {conf.get().mail_claim_window}"
        )
        session_id = seed()
        connection.close()
        say(f"seeded session {session_id} starting in 60 min with {REGISTRANTS} registrants")

        sweeps = [0, 0.0]  # sent, when

        def beat_outbox_sweep() -> None:
            """What beat does every minute, only faster: one sweep at a time, every 2 s."""
            if time.monotonic() - sweeps[1] > 2 and redis_queue_empty(redis.url):
                outbox_sweep_task.delay()
                sweeps[0] += 1
                sweeps[1] = time.monotonic()

        def wait(predicate, what: str) -> None:
            deadline = time.monotonic() + 300  # a loaded machine is slow
            while not predicate():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gave up waiting for {what}")
                if worker.starts > 1:
                    beat_outbox_sweep()
                time.sleep(0.002)

        worker.start()
        reminders_sweep_task.delay()  # what beat does every 5 minutes
        say("started a worker (concurrency 1) and sent the beat's reminder sweep")
        for share, where in KILLS:
            target = int(REGISTRANTS * share)
            if where == "in_smtp":
                handler.arm(target, worker.kill)
                wait(handler.killed.is_set, f"mail {target}")
            else:
                wait(lambda t=target: handler.count() >= t, f"mail {target}")
                worker.kill()
            at_kill = handler.count()
            states = outbox_states()
            connection.close()
            figures["kills"].append(
                {"where": where, "transmissions_at_kill": at_kill, "outbox_at_kill": states}
            )
            moment = (
                "inside an SMTP exchange (mail received, 250 not yet answered)"
                if where == "in_smtp"
                else "from outside"
            )
            say(
                f"SIGKILLed the worker and its pool {moment} after {at_kill} mails had reached "
                f"the sink; outbox then: {states}"
            )
            worker.start()
            say("restarted the worker")

        say("sending the beat's outbox sweep until every reminder is sent")
        wait(lambda: outbox_done(connection), "the outbox to empty")
        time.sleep(0.5)  # let the last SMTP exchange land
        worker.stop()
        figures["outbox_sweeps_sent"] = sweeps[0]
        figures["outbox_final"] = outbox_states()
        figures["seconds"] = round(time.monotonic() - started, 1)
    except Exception:
        print("--- worker log (tail)\n" + worker.log_tail(), file=sys.stderr)
        raise
    finally:
        worker.close()
        sink.controller.stop()
        redis.stop()
    figures.update(check(handler.transmissions, handler.killed_during))
    figures["cleaned_up"] = cleanup()
    return figures


def outbox_done(connection) -> bool:
    states = outbox_states()
    connection.close()
    return states == {"sent": REGISTRANTS}


def redis_queue_empty(url: str) -> bool:
    import redis as redis_client

    client = redis_client.Redis.from_url(url)
    return client.llen("mail") == 0  # the outbox tasks' queue


def check(transmissions: list[tuple[str, str, str]], killed_during) -> dict:
    expected = {EMAIL_PATTERN.format(n=n) for n in range(REGISTRANTS)}
    per_recipient: dict[str, set[str]] = collections.defaultdict(set)
    sends = collections.Counter()
    for rcpt, message_id, _key in transmissions:
        per_recipient[rcpt].add(message_id)
        sends[rcpt] += 1
    distinct = sum(len(ids) for ids in per_recipient.values())
    not_reminders = sum(1 for _r, _m, k in transmissions if "提醒" not in k and "Reminder" not in k)
    missing_id = sum(1 for _r, m, _k in transmissions if not m)
    in_smtp = killed_during[0] if killed_during else ""
    return {
        "smtp_transmissions": len(transmissions),
        "distinct_messages": distinct,
        "retransmissions": len(transmissions) - distinct,
        "transmissions_per_recipient": round(len(transmissions) / max(len(per_recipient), 1), 4),
        "retransmitted_to": sorted(r for r, n in sends.items() if n > 1),
        "mail_in_smtp_at_kill": in_smtp,
        "mail_in_smtp_at_kill_transmissions": sends.get(in_smtp, 0),
        "mail_in_smtp_at_kill_message_ids": len(per_recipient.get(in_smtp, ())),
        "registrants_with_exactly_one_reminder": sum(
            1 for r in expected if len(per_recipient.get(r, ())) == 1
        ),
        "registrants_with_more_than_one_reminder": sum(
            1 for r in expected if len(per_recipient.get(r, ())) > 1
        ),
        "registrants_without_reminder": sum(1 for r in expected if r not in per_recipient),
        "unexpected_recipients": len(set(per_recipient) - expected),
        "mails_without_message_id": missing_id,
        "mails_not_reminders": not_reminders,
    }


def main() -> int:
    figures = drill()
    from courses import conf  # Django is set up by drill()

    kills = figures["kills"]
    checks = {
        f"every registrant ({REGISTRANTS}) has exactly one reminder (distinct Message-ID)": (
            figures["registrants_with_exactly_one_reminder"] == REGISTRANTS
        ),
        "no registrant without a reminder": figures["registrants_without_reminder"] == 0,
        "no registrant with two different reminders": (
            figures["registrants_with_more_than_one_reminder"] == 0
        ),
        "every reminder row in the outbox is sent": (
            figures["outbox_final"] == {"sent": REGISTRANTS}
        ),
        f"the worker was killed {len(KILLS)} times mid-run (some mails sent, some not)": (
            len(kills) == len(KILLS)
            and all(0 < k["transmissions_at_kill"] < REGISTRANTS for k in kills)
        ),
        f"at most one mail in doubt retransmitted per kill, not a claim window of "
        f"{conf.get().mail_claim_window} ({figures['retransmissions']} for {len(kills)} kills)": (
            figures["retransmissions"] <= len(kills)
        ),
        "the mail in the SMTP exchange at the kill was retransmitted as the same message": (
            figures["mail_in_smtp_at_kill_transmissions"] == 2
            and figures["mail_in_smtp_at_kill_message_ids"] == 1
        ),
        "every mail carries a Message-ID and is a reminder to a registrant": (
            figures["mails_without_message_id"]
            == figures["mails_not_reminders"]
            == figures["unexpected_recipients"]
            == 0
        ),
    }
    for text, ok in checks.items():
        say(f"{'PASS' if ok else 'FAIL'}  {text}")
    say(
        f"transmissions per recipient (the SMTP server's log): "
        f"{figures['transmissions_per_recipient']:.4f} (target 1.00)"
    )
    say(
        f"SMTP transmissions {figures['smtp_transmissions']}, distinct messages "
        f"{figures['distinct_messages']}, retransmissions {figures['retransmissions']} "
        f"({', '.join(figures['retransmitted_to']) or 'none'}), outbox sweeps "
        f"{figures['outbox_sweeps_sent']}, {figures['seconds']} s; cleaned up "
        f"{figures['cleaned_up']} (database kept)"
    )
    figures["passed"] = all(checks.values())
    print(json.dumps(figures, ensure_ascii=False))
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
