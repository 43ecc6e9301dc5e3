"""Course reminders: each due reminder claimed in the ledger and sent once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.services import outbox_enqueue_many, outbox_expire

from .. import conf, mails
from ..models import Registration, Session
from .seats import _send_in_batches

REMINDER_CHUNK = 2000  # registrations read (and checked against the ledger) per query


@dataclass
class ReminderRun:
    written: int = 0  # reminders claimed in the ledger by this run (new outbox rows)
    queued: int = 0  # pending reminders handed to batch senders
    batches: int = 0
    expired: int = 0  # pending reminders whose moment passed: never sent late


def reminders_sweep(*, now: datetime | None = None) -> ReminderRun:
    """Write and send the reminders that are due now (beat, every few minutes).

    A reminder for offset *o* is due when ``start - o <= now < start - o + grace``; older ones
    are skipped (the beat was down), never sent late. Each (registration, offset, session
    revision) is claimed once in the outbox by its unique key before anything is sent; the
    outbox sends each claimed mail once, in batches over one SMTP connection, so a re-run or a
    retried batch sends nothing twice. Nothing is scheduled ahead (no eta/countdown).
    """
    now = now or timezone.now()
    grace = conf.get().reminder_grace
    run = ReminderRun()
    # Each reminder carries its deadline (its moment + grace): every outbox sender drops it
    # after that; here the ones still waiting are expired at once.
    run.expired = outbox_expire(now=now)
    for offset in conf.get().reminder_offsets:
        delta = timedelta(minutes=offset)
        sessions = Session.objects.filter(
            status__in=[Session.Status.SCHEDULED, Session.Status.LIVE],
            starts_at__gt=max(now, now + delta - grace),
            starts_at__lte=now + delta,
        ).select_related("topic")
        for session in sessions:
            with transaction.atomic():
                written, ids = _claim_reminders(session, offset=offset, now=now)
                run.written += written
                run.queued += len(ids)
                run.batches += _send_in_batches(ids)
    return run


def _claim_reminders(session: Session, *, offset: int, now: datetime) -> tuple[int, list[int]]:
    """Write the session's due reminders for one offset into the outbox (the ledger), a chunk
    of registrations at a time; returns how many were written and the ids still to send."""
    due_at = session.starts_at - timedelta(minutes=offset)
    deadline = min(due_at + conf.get().reminder_grace, session.starts_at)
    registrations = Registration.objects.filter(
        session=session, status=Registration.Status.CONFIRMED, confirmed_at__lte=due_at
    ).order_by("pk")
    texts = mails.BulkTexts(session, join=True)
    count = 0

    def messages():
        nonlocal count
        last = 0
        while True:
            chunk = list(
                registrations.filter(pk__gt=last).values(
                    "pk", "name", "email", "language", "link_key", "created_at"
                )[:REMINDER_CHUNK]
            )
            if not chunk:
                return
            last = chunk[-1]["pk"]
            keys = {mails.reminder_key(r["pk"], offset, session.sequence): r for r in chunk}
            claimed = set(
                OutboxMessage.objects.filter(key__in=list(keys)).values_list("key", flat=True)
            )
            for key, row in keys.items():
                if key not in claimed:
                    count += 1
                    yield {**mails.reminder(row, texts, offset=offset), "deadline": deadline}

    ids = outbox_enqueue_many(messages=messages())
    return count, ids
