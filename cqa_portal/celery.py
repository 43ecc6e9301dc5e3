"""Celery application. Tasks are autodiscovered from every app's tasks.py."""

import importlib
import os

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.schedules import crontab
from django.db import transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cqa_portal.settings.local")


class PortalTask(DjangoTask):
    """Enqueue after commit, and never let a broker outage fail the request.

    Celery's own ``delay_on_commit`` registers a plain on_commit callback, so a broker that is
    down raises into the view after the data is already committed. Here the callback is robust:
    the error is logged and the outbox sweep delivers the work later.
    """

    def delay_on_commit(self, *args, **kwargs) -> None:
        transaction.on_commit(lambda: self.delay(*args, **kwargs), robust=True)


app = Celery("cqa_portal", task_cls=PortalTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic work, declared in code. Every entry is a set-based, re-runnable sweep.
# Each app declares its own entries in <app>/schedule.py as BEAT_SCHEDULE (plain data).
app.conf.beat_schedule = {
    "outbox-sweep": {"task": "core.outbox.sweep", "schedule": 60.0},
    "outbox-purge": {"task": "core.outbox.purge", "schedule": crontab(minute=30, hour=3)},
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
