from celery.schedules import crontab

BEAT_SCHEDULE = {
    "members-fees-overdue": {
        "task": "members.fees.mark_overdue",
        "schedule": crontab(minute=5, hour=1),
    },
    "members-fee-reminders": {
        "task": "members.mail.fee_reminders",
        "schedule": crontab(minute=0, hour=9),
    },
}
