"""Settings of the courses app, with their defaults (override them in the settings module)."""

from datetime import timedelta

from django.conf import settings


def reminder_offsets() -> list[int]:
    """Minutes before the start at which confirmed registrants are reminded (24 h and 1 h)."""
    return sorted(
        {int(m) for m in getattr(settings, "COURSES_REMINDER_OFFSETS", [24 * 60, 60])},
        reverse=True,
    )


def reminder_grace() -> timedelta:
    """How late a reminder may still go out. Older ones are skipped, never sent late.

    Must be longer than the beat interval of the reminder sweep (5 minutes).
    """
    return timedelta(minutes=int(getattr(settings, "COURSES_REMINDER_GRACE_MINUTES", 30)))


def confirm_max_age() -> int:
    """Seconds a visitor's email confirmation link stays valid."""
    return int(getattr(settings, "COURSES_CONFIRM_MAX_AGE", 48 * 3600))


def mail_batch_size() -> int:
    """Mails sent over one SMTP connection by one task."""
    return int(getattr(settings, "COURSES_MAIL_BATCH_SIZE", 300))


def mail_claim_window() -> int:
    """Mails a batch sender claims (and marks sent) per database statement, so the queries
    grow with batches, not recipients (issue 6). A worker killed mid-batch leaves at most this
    many in doubt: they are sent again after the stale-claim window with the same Message-ID,
    so a mailbox holds one reminder (a retransmission, not a second mail). 1 makes that a
    single mail, at one statement per mail."""
    return int(getattr(settings, "COURSES_MAIL_CLAIM_WINDOW", 20))


def calendar_domain() -> str:
    """Right-hand side of calendar UIDs: stable for the life of the portal."""
    return getattr(settings, "COURSES_CALENDAR_DOMAIN", "courses.caq.example.org")
