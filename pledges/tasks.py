"""Thin, idempotent tasks."""

from celery import shared_task

from . import services


@shared_task(name="pledges.signatures.purge", ignore_result=True)
def signatures_purge_task() -> dict:
    return services.signatures_purge()
