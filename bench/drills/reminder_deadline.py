"""Drill: the mail worker is down past the reminders' deadline; then it comes back.

Done: in the drill database, a session has 500 confirmed registrants and its 1-hour reminder
is due now with only 15 s left of the grace period. A worker on the ``default`` queue only runs
the beat's reminder sweep: the reminders are written to the outbox and their batches queued on
``mail``, which nobody consumes (the mail worker is down). A dead worker's claim is staged on
100 of them (``sending``, claimed long ago). After the deadline a mail worker starts and the
beat's outbox sweep is sent (twice), with a real SMTP server listening.
Checked: the SMTP server's log shows no reminder at all; every reminder row is ``expired``
(pending and claimed ones alike). Before (the expiry covered only pending rows, in the reminder
sweep): the queued batches and the outbox sweep sent 380 of 500 late.

Run alone: ``.venv/bin/python bench/drills/reminder_deadline.py`` (or ``make drills``).
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

REGISTRANTS = 500
SLUG, PREFIX = "drill-reminder-deadline", "drill-reminder-deadline-"
LEFT = 15  # seconds of the grace period left when the sweep writes the reminders


def say(text: str) -> None:
    print(text, flush=True)


def wait(predicate, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}")
        time.sleep(0.2)


def main() -> int:
    redis = OwnRedis().start()
    sink = MailboxSink()
    sink.controller.start()
    extra = {"REDIS_URL": redis.url, "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}"}
    env = drill_env(**extra)
    scheduler = Worker(env, queues="default", name="reminder-deadline-default")
    mailer = Worker(env, queues="mail", name="reminder-deadline-mail")
    figures: dict = {"drill": "reminder_deadline", "registrants": REGISTRANTS}
    try:
        prepare(**extra)
        from django.conf import settings
        from django.utils import timezone

        from courses.tasks import reminders_sweep_task
        from cqa_portal.core.models import OutboxMessage
        from cqa_portal.core.tasks import outbox_sweep_task

        grace = timedelta(minutes=settings.COURSES_REMINDER_GRACE_MINUTES)
        starts = timezone.now() + timedelta(minutes=60) - grace + timedelta(seconds=LEFT)
        seed_session(slug=SLUG, prefix=PREFIX, registrants=REGISTRANTS, starts_at=starts)
        say(
            f"seeded a session whose 1-hour reminder is due with {LEFT}s of its "
            f"{grace.seconds // 60}-minute grace left; {REGISTRANTS} registrants"
        )
        scheduler.start()
        reminders_sweep_task.delay()
        wait(lambda: outbox_states(PREFIX).get("pending") == REGISTRANTS, "the reminders")
        scheduler.stop()
        say(f"the reminder sweep wrote {REGISTRANTS} reminders; no mail worker is running")
        stale = timezone.now() - timedelta(seconds=settings.OUTBOX_STALE_CLAIM_SECONDS + 60)
        claimed = list(
            OutboxMessage.objects.filter(to__startswith=PREFIX).values_list("pk", flat=True)[:100]
        )
        OutboxMessage.objects.filter(pk__in=claimed).update(
            status=OutboxMessage.Status.SENDING, claimed_at=stale
        )
        say(f"staged a dead worker's claim on {len(claimed)}; outbox {outbox_states(PREFIX)}")
        deadline = OutboxMessage.objects.filter(to__startswith=PREFIX).first().deadline
        figures["deadline"] = deadline.isoformat()
        time.sleep(max((deadline - timezone.now()).total_seconds(), 0) + 1)
        say("the deadline has passed; starting a mail worker and sending the beat's outbox sweep")
        mailer.start()
        for _ in range(2):
            outbox_sweep_task.delay()
        wait(lambda: not ({"pending", "sending"} & set(outbox_states(PREFIX))), "the outbox", 90)
        time.sleep(2)  # the queued batches run too
        mailer.stop()
        figures["outbox_final"] = outbox_states(PREFIX)
    finally:
        scheduler.close()
        mailer.close()
        sink.controller.stop()
        redis.stop()
    figures.update(per_recipient(sink.handler.transmissions))
    figures["cleaned_up"] = cleanup_session(slug=SLUG, prefix=PREFIX)
    checks = {
        "no reminder reached the SMTP server after its deadline": (
            figures["smtp_transmissions"] == 0
        ),
        f"every reminder row ({REGISTRANTS}) is expired, the claimed ones too": (
            figures["outbox_final"] == {"expired": REGISTRANTS}
        ),
    }
    for text, ok in checks.items():
        say(f"{'PASS' if ok else 'FAIL'}  {text}")
    say(
        f"SMTP transmissions {figures['smtp_transmissions']} (before: 380 of 500 sent late); "
        f"outbox {figures['outbox_final']}; cleaned up {figures['cleaned_up']}"
    )
    figures["passed"] = all(checks.values())
    print(json.dumps(figures, ensure_ascii=False))
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
