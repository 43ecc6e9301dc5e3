"""Beat entries of the surveys app (collected by cqa_portal/celery.py)."""

BEAT_SCHEDULE = {
    # Fresh summary snapshots of open surveys (one computation at a time per survey).
    "surveys-summary-refresh": {"task": "surveys.summary.refresh_open", "schedule": 900.0},
    # Reminder steps a set number of days before closing (Survey.reminder_days).
    "surveys-reminders": {"task": "surveys.reminders.sweep", "schedule": 3600.0},
    # Close surveys whose closing time has passed.
    "surveys-close-due": {"task": "surveys.status.close_due", "schedule": 300.0},
}
