"""Drill: a slow SMTP server makes the mail batches hit the task's soft time limit inside
``send()``.

Done: in the drill database a session has 240 confirmed registrants whose 1-hour reminder is
due. The SMTP server (aiosmtpd, in this process) takes 0.1 s to answer each mail. A real worker
(``-Q mail,default --concurrency 2``, like production) runs with a soft time limit of 4 s and
batches of 120, so both parallel batches are interrupted by ``SoftTimeLimitExceeded`` while the
server holds a mail. Then the beat's outbox sweep is sent every 2 s until every reminder is
sent.
Checked: no reminder row is ever ``failed`` (before: ``SoftTimeLimitExceeded`` was taken as a
permanent failure, so mails the server had accepted were marked failed and a staff retry sent
them twice); every registrant has exactly one reminder (distinct Message-ID) by the SMTP
server's own log; transmissions per recipient, with at most one retransmission (the mail in
the exchange, same Message-ID) per time limit hit.

Run alone: ``.venv/bin/python bench/drills/slow_smtp.py`` (or ``make drills``).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    Worker,
    cleanup_session,
    drill_env,
    outbox_states,
    per_recipient,
    prepare,
    seed_session,
)
from worker_kill import MailboxSink  # noqa: E402

from tests.drills.own_redis import OwnRedis  # noqa: E402

REGISTRANTS = 240
BATCH = 120
SOFT_LIMIT = 4
SMTP_SECONDS = 0.1
SLUG, PREFIX = "drill-slow-smtp", "drill-slow-smtp-"


def say(text: str) -> None:
    print(text, flush=True)


def main() -> int:
    started = time.monotonic()
    redis = OwnRedis().start()
    sink = MailboxSink()
    sink.handler.delay = SMTP_SECONDS
    sink.controller.start()
    extra = {
        "REDIS_URL": redis.url,
        "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}",
        "CELERY_TASK_SOFT_TIME_LIMIT": str(SOFT_LIMIT),
        "CELERY_TASK_TIME_LIMIT": str(SOFT_LIMIT * 3),
        "COURSES_MAIL_BATCH_SIZE": str(BATCH),
    }
    worker = Worker(drill_env(**extra), name="slow-smtp", concurrency=2)
    figures: dict = {"drill": "slow_smtp", "registrants": REGISTRANTS}
    failed_seen = 0
    try:
        prepare(**extra)
        from django.utils import timezone

        from courses.tasks import reminders_sweep_task
        from cqa_portal.core.tasks import outbox_sweep_task

        starts = (timezone.now() + timedelta(minutes=59)).replace(microsecond=0)
        seed_session(slug=SLUG, prefix=PREFIX, registrants=REGISTRANTS, starts_at=starts)
        say(
            f"seeded {REGISTRANTS} registrants; SMTP answers each mail after {SMTP_SECONDS}s; "
            f"worker concurrency 2, soft time limit {SOFT_LIMIT}s, batches of {BATCH}"
        )
        worker.start()
        reminders_sweep_task.delay()
        last_sweep = time.monotonic()
        deadline = time.monotonic() + 150
        while True:
            states = outbox_states(PREFIX)
            failed_seen = max(failed_seen, states.get("failed", 0))
            if states == {"sent": REGISTRANTS}:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gave up waiting: outbox {states}")
            if time.monotonic() - last_sweep > 2:
                outbox_sweep_task.delay()  # what beat does every minute, faster
                last_sweep = time.monotonic()
            time.sleep(0.2)
        time.sleep(0.5)
        worker.stop()
        log = Path(worker.log.name).read_text(errors="replace")
        figures["soft_time_limits_hit"] = log.count("Soft time limit (")
        figures["outbox_final"] = outbox_states(PREFIX)
        figures["seconds"] = round(time.monotonic() - started, 1)
    except Exception:
        print("--- worker log (tail)\n" + worker.log_tail(), file=sys.stderr)
        raise
    finally:
        worker.close()
        sink.controller.stop()
        redis.stop()
    figures["failed_rows_seen"] = failed_seen
    figures.update(per_recipient(sink.handler.transmissions))
    figures["cleaned_up"] = cleanup_session(slug=SLUG, prefix=PREFIX)
    hits = figures["soft_time_limits_hit"]
    checks = {
        f"the soft time limit struck mid-batch ({hits} times)": hits >= 1,
        "no reminder row was ever marked failed": failed_seen == 0,
        f"every registrant ({REGISTRANTS}) reached, each with one message": (
            figures["recipients_reached"] == REGISTRANTS
            and figures["recipients_with_two_messages"] == 0
        ),
        "every reminder row is sent": figures["outbox_final"] == {"sent": REGISTRANTS},
        f"at most one retransmission per time limit hit ({figures['retransmissions']})": (
            figures["retransmissions"] <= hits
        ),
    }
    for text, ok in checks.items():
        say(f"{'PASS' if ok else 'FAIL'}  {text}")
    say(
        f"transmissions per recipient (the SMTP server's log) "
        f"{figures['transmissions_per_recipient']:.4f}; SMTP transmissions "
        f"{figures['smtp_transmissions']}; failed rows seen {failed_seen}; {figures['seconds']} s"
    )
    figures["passed"] = all(checks.values())
    print(json.dumps(figures, ensure_ascii=False))
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
