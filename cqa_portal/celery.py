"""Celery application. Tasks are autodiscovered from every app's tasks.py."""

import importlib
import logging
import os
import time

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.schedules import crontab
from django.db import transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cqa_portal.settings.local")

logger = logging.getLogger(__name__)

# After a failed publish, this process does not try the broker again for this long: a frozen
# broker costs one short socket timeout per process and window, not one per request.
BROKER_DOWN_SECONDS = 10.0


class PortalTask(DjangoTask):
    """Enqueue after commit, and never let a broker outage fail or slow the request.

    Celery's own ``delay_on_commit`` registers a plain on_commit callback, so a broker that is
    down raises into the view after the data is already committed. Here a failed publish is
    logged and the process skips the broker for ``BROKER_DOWN_SECONDS``; the outbox sweep sends
    the mail later, and every other task is re-requested by its sweep or by staff.
    """

    broker_down_until = 0.0  # shared by every task of this process

    def delay_on_commit(self, *args, **kwargs) -> None:
        transaction.on_commit(lambda: self._publish(args, kwargs))

    def _publish(self, args, kwargs) -> None:
        if PortalTask.broker_down_until > time.monotonic():
            logger.warning("broker marked down: %s not queued (its sweep does it)", self.name)
            return
        try:
            self.delay(*args, **kwargs)
        except Exception:  # noqa: BLE001 - the data is committed; the sweeps catch up
            PortalTask.broker_down_until = time.monotonic() + BROKER_DOWN_SECONDS
            logger.warning("broker unavailable: %s not queued", self.name, exc_info=True)


app = Celery("cqa_portal", task_cls=PortalTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic work, declared in code. Every entry is a set-based, re-runnable sweep.
# Each app declares its own entries in <app>/schedule.py as BEAT_SCHEDULE (plain data).
app.conf.beat_schedule = {
    "outbox-sweep": {"task": "core.outbox.sweep", "schedule": 60.0},
    "outbox-purge": {"task": "core.outbox.purge", "schedule": crontab(minute=30, hour=3)},
    "jobs-purge": {"task": "core.jobs.purge", "schedule": crontab(minute=40, hour=3)},
    "personal-data-purge": {
        "task": "core.personal_data.purge",
        "schedule": crontab(minute=35, hour=3),
    },
    # New applications, relief requests and co-signatures: one digest per staff recipient.
    "core-staff-notices": {"task": "core.staff_notices.digest", "schedule": 300.0},
}
for _app in ("members", "pledges", "surveys", "courses"):
    try:
        _module = importlib.import_module(f"{_app}.schedule")
    except ModuleNotFoundError as exc:
        if exc.name != f"{_app}.schedule":
            raise
        continue
    app.conf.beat_schedule.update(_module.BEAT_SCHEDULE)
