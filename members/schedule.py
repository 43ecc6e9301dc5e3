from celery.schedules import crontab

BEAT_SCHEDULE = {
    "members-fees-overdue": {
        "task": "members.fees.mark_overdue",
        "schedule": crontab(minute=5, hour=1),
    },
    # The privacy notice: old invitations and relief documents are deleted (core.retention).
    "members-retention-purge": {
        "task": "members.retention.purge",
        "schedule": crontab(minute=50, hour=4),
    },
    "members-fee-reminders": {
        "task": "members.mail.fee_reminders",
        "schedule": crontab(minute=0, hour=9),
    },
}
