"""The courses app's settings: one typed, read-only view of the ``COURSES_*`` Django settings.

The names and their defaults (with environment overrides) are declared in
``cqa_portal/settings/base.py``; code reads them only through ``conf.get()``, which builds the
view from the settings of the moment (so ``override_settings`` in tests takes effect).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings


@dataclass(frozen=True)
class CoursesSettings:
    # Minutes before the start at which confirmed registrants are reminded, latest first.
    reminder_offsets: tuple[int, ...]
    # How late a reminder may still go out; older ones are skipped, never sent late. Must be
    # longer than the beat interval of the reminder sweep (5 minutes).
    reminder_grace: timedelta
    # How long a visitor's email confirmation link stays valid.
    confirm_max_age: timedelta
    # Mails sent over one SMTP connection by one task.
    mail_batch_size: int
    # Mails a batch sender claims (and marks sent) per database statement, so the queries grow
    # with batches, not recipients (issue 6). A worker killed mid-batch leaves at most this many
    # in doubt: they are sent again after the stale-claim window with the same Message-ID, so a
    # mailbox holds one reminder. 1 makes that a single mail, at one statement per mail.
    mail_claim_window: int
    # Right-hand side of calendar UIDs: stable for the life of the portal.
    calendar_domain: str
    # Per client address: (requests, window in seconds) for visitors' registration requests
    # and for requests of a new confirmation link.
    register_rate: tuple[int, int]

    @property
    def confirm_max_age_hours(self) -> int:
        return int(self.confirm_max_age.total_seconds()) // 3600


def _rate(value) -> tuple[int, int]:
    count, window = value
    return int(count), int(window)


def get() -> CoursesSettings:
    return CoursesSettings(
        reminder_offsets=tuple(
            sorted({int(m) for m in settings.COURSES_REMINDER_OFFSETS}, reverse=True)
        ),
        reminder_grace=timedelta(minutes=int(settings.COURSES_REMINDER_GRACE_MINUTES)),
        confirm_max_age=timedelta(seconds=int(settings.COURSES_CONFIRM_MAX_AGE)),
        mail_batch_size=int(settings.COURSES_MAIL_BATCH_SIZE),
        mail_claim_window=int(settings.COURSES_MAIL_CLAIM_WINDOW),
        calendar_domain=str(settings.COURSES_CALENDAR_DOMAIN),
        register_rate=_rate(settings.COURSES_REGISTER_RATE),
    )
