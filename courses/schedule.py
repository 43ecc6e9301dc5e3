"""Beat entries of the courses app (collected by cqa_portal/celery.py)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # The privacy notice: unconfirmed registrations are deleted (core.retention).
    "courses-registrations-purge": {
        "task": "courses.registrations.purge",
        "schedule": crontab(minute=40, hour=4),
    },
    # Handles only reminders due now (grace window COURSES_REMINDER_GRACE_MINUTES, > interval);
    # nothing is ever scheduled ahead with eta/countdown.
    "courses-reminders-sweep": {"task": "courses.reminders.sweep", "schedule": 300.0},
    "courses-sessions-close": {"task": "courses.sessions.close", "schedule": 600.0},
}
