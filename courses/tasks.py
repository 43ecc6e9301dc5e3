"""Thin, re-runnable tasks of the courses app."""

from celery import shared_task

from . import services


@shared_task(name="courses.reminders.sweep", ignore_result=True)
def reminders_sweep_task() -> dict:
    """Write the reminders due now and hand them to batch senders (beat, every 5 minutes)."""
    run = services.reminders_sweep()
    return {"written": run.written, "queued": run.queued, "expired": run.expired}


@shared_task(name="courses.sessions.close", ignore_result=True)
def sessions_close_task() -> int:
    return services.sessions_close_finished()


@shared_task(name="courses.registrations.purge", ignore_result=True)
def registrations_purge_task() -> int:
    """The privacy notice's promise: unconfirmed registrations go (beat, daily)."""
    return services.registrations_purge()
