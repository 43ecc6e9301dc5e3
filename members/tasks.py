from celery import shared_task

from . import services


@shared_task(name="members.fees.mark_overdue", ignore_result=True)
def fees_mark_overdue_task() -> int:
    return services.fees_mark_overdue()


@shared_task(name="members.mail.fee_reminders", ignore_result=True, acks_late=True)
def fee_reminders_task() -> int:
    return services.fee_reminders_send()


@shared_task(name="members.retention.purge", ignore_result=True)
def retention_purge_task() -> dict:
    """The privacy notice's promises: old invitations and relief documents go (beat, daily)."""
    return services.retention_purge()
