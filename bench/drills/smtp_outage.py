"""Drill: the SMTP server is down for two minutes while mail is written; then it comes back.

Done: a real worker (``-Q mail,default``) and a real SMTP server port that refuses connections
(the server is not running). 50 mails are written through the outbox (each send task fails to
connect and the row waits for its backoff); the beat's outbox sweep is sent every 60 s as beat
does. After ``DRILL_OUTAGE_SECONDS`` (120) the SMTP server starts on that port.
Checked: the outbox backlog (``outbox_backlog()``, what staff see on the outbox admin) shows the
50 waiting mails and their age during the outage; every mail reaches the SMTP server exactly
once (its own log), within 70 s of its return (before: 6 minutes, backoff 60 s then 300 s).

Run alone: ``.venv/bin/python bench/drills/smtp_outage.py`` (or ``make drills``). About 3 min.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Worker, drill_env, outbox_states, per_recipient, prepare  # noqa: E402
from worker_kill import MailboxSink  # noqa: E402

from tests.drills.own_redis import OwnRedis  # noqa: E402

MAILS = 50
OUTAGE = float(os.environ.get("DRILL_OUTAGE_SECONDS", "120"))
BEAT = 60.0
PREFIX = "drill-smtp-outage-"


def say(text: str) -> None:
    print(text, flush=True)


def main() -> int:
    started = time.monotonic()
    redis = OwnRedis().start()
    sink = MailboxSink()  # not started: the port refuses connections
    extra = {"REDIS_URL": redis.url, "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}"}
    worker = Worker(drill_env(**extra), name="smtp-outage")
    figures: dict = {"drill": "smtp_outage", "mails": MAILS, "outage_seconds": OUTAGE}
    running = False
    try:
        prepare(**extra)
        from django.db import connection

        from cqa_portal.core import services
        from cqa_portal.core.models import OutboxMessage
        from cqa_portal.core.selectors import outbox_backlog
        from cqa_portal.core.tasks import outbox_sweep_task

        OutboxMessage.objects.filter(to__startswith=PREFIX).delete()
        worker.start()
        for n in range(MAILS):
            services.outbox_enqueue(
                key=f"drill.smtp_outage:{n}",
                purpose="drill.smtp_outage",
                to=f"{PREFIX}{n}@example.com",
                subject="演练：邮件服务器中断",
                body="正文",
            )
        say(f"SMTP server down; wrote {MAILS} mails through the outbox (sent after commit)")
        last_beat = time.monotonic()
        returned_at = None
        backlog_seen = None
        while True:
            now = time.monotonic()
            if returned_at is None and now - started >= OUTAGE:
                backlog_seen = outbox_backlog()
                connection.close()
                sink.controller.start()
                running = True
                returned_at = time.monotonic()
                say(
                    f"after {now - started:.0f}s the SMTP server is back; backlog staff saw: "
                    f"{backlog_seen['pending']} waiting, {backlog_seen['failed']} failed, oldest "
                    f"{backlog_seen['oldest_pending_age'].total_seconds():.0f}s"
                )
            if now - last_beat >= BEAT:
                outbox_sweep_task.delay()  # beat, every minute
                last_beat = now
            if returned_at is not None and outbox_states(PREFIX) == {"sent": MAILS}:
                break
            if now - started > OUTAGE + 400:
                raise RuntimeError(f"gave up: outbox {outbox_states(PREFIX)}")
            time.sleep(0.5)
        delivered_after = max(t for t in sink.handler.arrivals) - returned_at
        figures["delivered_seconds_after_return"] = round(delivered_after, 1)
        figures["backlog_during_outage"] = {
            "pending": backlog_seen["pending"],
            "failed": backlog_seen["failed"],
            "oldest_pending_age_s": round(backlog_seen["oldest_pending_age"].total_seconds()),
        }
        time.sleep(0.5)
        worker.stop()
        OutboxMessage.objects.filter(to__startswith=PREFIX).delete()
    except Exception:
        print("--- worker log (tail)\n" + worker.log_tail(), file=sys.stderr)
        raise
    finally:
        worker.close()
        if running:
            sink.controller.stop()
        redis.stop()
    figures.update(per_recipient(sink.handler.transmissions))
    checks = {
        f"staff saw the {MAILS} waiting mails during the outage": (
            figures["backlog_during_outage"]["pending"] == MAILS
        ),
        f"every mail reached the server exactly once ({figures['smtp_transmissions']})": (
            figures["recipients_reached"] == MAILS and figures["smtp_transmissions"] == MAILS
        ),
        f"all delivered within 70 s of the server's return "
        f"({figures['delivered_seconds_after_return']} s; before: 6 minutes)": (
            figures["delivered_seconds_after_return"] <= 70
        ),
    }
    for text, ok in checks.items():
        say(f"{'PASS' if ok else 'FAIL'}  {text}")
    figures["passed"] = all(checks.values())
    print(json.dumps(figures, ensure_ascii=False, default=str))
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
