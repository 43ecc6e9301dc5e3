"""Thin tasks: take ids, call a service. Safe to run twice."""

from celery import shared_task

from . import services


@shared_task(name="core.outbox.send", acks_late=True, ignore_result=True)
def outbox_send_task(message_id: int) -> bool:
    return services.outbox_send(message_id=message_id)


@shared_task(name="core.outbox.send_many", acks_late=True, ignore_result=True)
def outbox_send_many_task(message_ids: list[int], window: int = 1) -> int:
    return services.outbox_send_many(message_ids=message_ids, window=window)


@shared_task(name="core.outbox.sweep", ignore_result=True)
def outbox_sweep_task() -> int:
    return services.outbox_sweep()


@shared_task(name="core.outbox.purge", ignore_result=True)
def outbox_purge_task() -> int:
    return services.outbox_purge()


@shared_task(name="core.personal_data.purge", ignore_result=True)
def personal_data_purge_task() -> int:
    """The privacy notice: requests for a link to one's data are deleted (beat, daily)."""
    from .services.personal_data import personal_data_requests_purge

    return personal_data_requests_purge()


@shared_task(name="core.staff_notices.digest", ignore_result=True)
def staff_notices_task() -> int:
    """Tell staff what arrived since the last run (one digest mail per recipient)."""
    return services.staff_notices_send()


@shared_task(name="core.ping", ignore_result=True)
def ping_task(token: str) -> str:
    """Used by the health drill and tests: proves a real worker consumed a task."""
    from django.core.cache import cache

    cache.set(f"core.ping.{token}", "pong", timeout=300)
    return "pong"


@shared_task(
    name="core.jobs.run",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=1800,
    time_limit=1900,
)
def job_run_task(job_id: int) -> str:
    """A staff job (export, import, mass send): claimed once, see core/jobs.py."""
    from . import jobs

    return jobs.job_run(job_id=job_id)


@shared_task(name="core.jobs.purge", ignore_result=True)
def jobs_purge_task() -> int:
    from . import jobs

    return jobs.jobs_purge()
