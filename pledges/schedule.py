"""Beat entries of the pledges app (collected by cqa_portal.celery)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # The privacy notice promises: unconfirmed signatures and IP hashes go after 30 days.
    "pledges-signatures-purge": {
        "task": "pledges.signatures.purge",
        "schedule": crontab(minute=20, hour=4),
    },
}
