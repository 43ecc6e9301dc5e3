"""Thin tasks: take ids, call a service. Safe to run twice."""

from celery import shared_task

from . import services


@shared_task(name="surveys.summary.snapshot", acks_late=True, ignore_result=True)
def summary_snapshot_task(survey_id: int, request_id: str | None = None) -> int | None:
    snapshot = services.summary_snapshot_make(survey_id=survey_id, request_id=request_id)
    return snapshot.pk if snapshot else None


@shared_task(name="surveys.summary.refresh_open", ignore_result=True)
def summary_refresh_open_task() -> int:
    return services.summary_refresh_open_surveys()


@shared_task(name="surveys.reminders.sweep", ignore_result=True)
def reminders_sweep_task() -> int:
    return services.reminders_sweep()


@shared_task(name="surveys.status.close_due", ignore_result=True)
def close_due_task() -> int:
    return services.surveys_close_due()
