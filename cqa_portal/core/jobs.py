"""Long work in the background, with progress: the one mechanism for the exports, imports and
mass sends that staff start by hand.

- ``job_start(kind=, owner=, title=, params=, total=, upload=)`` writes a ``Job`` (queued) and
  queues the task ``core.jobs.run`` after commit. Without a broker (the embedded default,
  ``CELERY_TASK_ALWAYS_EAGER``) the task runs inline after commit, so the job page then shows
  it done.
- ``job_run`` (the task's body) claims the job with a conditional UPDATE: only a queued job, or
  a running one whose worker died (started more than ``STALE_SECONDS`` ago), becomes running.
  A job that is done, failed or claimed by another worker is skipped, so a task delivered twice
  runs the work once.
- The work of each kind is a handler, ``@handler("<app>.<what>")`` in ``<app>/jobs.py``
  (loaded when the apps are ready). It gets the job and a ``Progress`` (written every
  ``PROGRESS_EVERY`` rows or second) and returns an ``Outcome``: a message, and a result file
  (written in private storage, never public media) or a report (JSON, e.g. an import's bad
  rows).
- A ``JobError``, ``PortalError`` or ``ValidationError`` fails the job with its message in the
  owner's language; anything else is logged and fails it with a general message.

Staff see their jobs at ``/staff/jobs/`` and each at ``/staff/jobs/<id>/`` (``job_views``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import exports
from .errors import PortalError
from .models import Job

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 1000  # rows between progress writes (or one second, whichever comes first)
STALE_SECONDS = 2 * 3600  # a running job older than this lost its worker: run it again

HANDLERS: dict[str, Callable[[Job, Progress], Outcome]] = {}


class JobError(Exception):
    """A failure to show to the job's owner as it is (already translated)."""


@dataclass
class Outcome:
    message: str = ""
    file_name: str = ""  # a name in private storage (``Progress.result_path``)
    download_name: str = ""
    report: dict | None = None
    extra: dict = field(default_factory=dict)


def handler(kind: str):
    """Register the function doing the work of a kind of job."""

    def register(func):
        HANDLERS[kind] = func
        return func

    return register


class Progress:
    """Rows done out of a total, written to the job every ``PROGRESS_EVERY`` rows or second."""

    def __init__(self, job: Job, every: int = PROGRESS_EVERY):
        self.job = job
        self.every = every
        self.done = 0
        self._written = 0
        self._at = time.monotonic()

    def set_total(self, total: int, message: str = "") -> None:
        self.job.total = total
        fields = {"total": total}
        if message:
            fields["message"] = message[:500]
        Job.objects.filter(pk=self.job.pk).update(**fields)

    def say(self, message: str) -> None:
        Job.objects.filter(pk=self.job.pk).update(message=message[:500])

    def step(self, count: int = 1) -> None:
        self.done += count
        if self.done - self._written >= self.every or time.monotonic() - self._at >= 1:
            self.flush()

    def flush(self) -> None:
        Job.objects.filter(pk=self.job.pk).update(done=self.done)
        self._written = self.done
        self._at = time.monotonic()

    def count(self, rows: Iterable) -> Iterator:
        for row in rows:
            yield row
            self.step()

    def result_path(self, extension: str) -> tuple[str, str]:
        """A new file name in private storage for the result, and its path on disk."""
        storage = self.job.result_file.storage
        day = timezone.localdate()
        name = storage.generate_filename(
            f"jobs/out/{day:%Y/%m}/job-{self.job.pk}-{int(time.time())}.{extension}"
        )
        path = storage.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return name, path


def export_outcome(
    progress: Progress, fmt: str, sheets: Sequence[exports.Sheet], *, filename: str
) -> Outcome:
    """Write the sheets to a result file through the one export layer (XLSX in write-only
    mode, CSV row by row), counting rows as progress."""
    if fmt not in exports.FORMATS:
        raise JobError(_("Unknown file format “%(format)s”.") % {"format": fmt})
    counted = [
        exports.Sheet(title=s.title, header=s.header, rows=progress.count(s.rows)) for s in sheets
    ]
    name, path = progress.result_path(fmt)
    if fmt == "csv":
        with open(path, "wb") as handle:
            for chunk in exports.iter_csv(counted[0]):
                handle.write(chunk)
    else:
        exports.write_xlsx(counted, path)
    progress.flush()
    return Outcome(
        message=_("%(count)d rows exported.") % {"count": progress.done},
        file_name=name,
        download_name=exports.safe_filename(filename, fmt),
    )


# --- services ----------------------------------------------------------------------------------


@transaction.atomic
def job_start(
    *,
    kind: str,
    owner,
    title: str,
    params: dict | None = None,
    total: int = 0,
    upload=None,
    parent: Job | None = None,
) -> Job:
    """Write a queued job (with its uploaded file, if any) and run it after commit."""
    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job(
        kind=kind,
        owner=owner,
        title=str(title)[:300],
        language=translation.get_language() or "zh-hans",
        params=params or {},
        total=total,
        parent=parent,
    )
    if upload is not None:
        job.input_name = os.path.basename(upload.name or "")[:255]
        job.input_file.save(f"upload{os.path.splitext(job.input_name)[1][:10]}", upload, save=False)
    job.save()
    from .tasks import job_run_task

    job_run_task.delay_on_commit(job.pk)
    return job


def _claim(job_id: int) -> bool:
    now = timezone.now()
    return bool(
        Job.objects.filter(pk=job_id)
        .filter(
            Q(status=Job.Status.QUEUED)
            | Q(status=Job.Status.RUNNING, started_at__lt=now - timedelta(seconds=STALE_SECONDS))
        )
        .update(status=Job.Status.RUNNING, started_at=now, done=0, error="")
    )


def job_run(*, job_id: int) -> str:
    """Run a job once: claim it, call its handler, store the outcome. Returns its status."""
    if not _claim(job_id):
        return "skipped"
    job = Job.objects.select_related("owner").get(pk=job_id)
    progress = Progress(job)
    with translation.override(job.language):
        try:
            outcome = HANDLERS[job.kind](job, progress)
        except (JobError, PortalError, ValidationError) as exc:
            _fail(job, _error_text(exc))
        except SoftTimeLimitExceeded:
            _fail(job, _("The job took too long and was stopped. Try a smaller selection."))
        except Exception:
            logger.exception("job %s (%s) failed", job.pk, job.kind)
            _fail(
                job,
                _(
                    "The job failed because of an error in the portal. Nothing was changed "
                    "by it; the error was logged for the technical team. Try again later."
                ),
            )
        else:
            Job.objects.filter(pk=job.pk).update(
                status=Job.Status.DONE,
                done=progress.done,
                message=outcome.message[:500],
                result_file=outcome.file_name,
                result_name=outcome.download_name[:255],
                report=outcome.report,
                finished_at=timezone.now(),
            )
            return Job.Status.DONE
    return Job.Status.FAILED


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    if isinstance(exc, PortalError):
        return str(exc.message)
    return str(exc)


def _fail(job: Job, error: str) -> None:
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.FAILED, error=error, finished_at=timezone.now()
    )


def job_url(job: Job) -> str:
    return reverse("core:job", args=[job.pk])


def worker_request(job: Job, path: str = "/"):
    """A stand-in request for admin code that takes one (querysets, resources, permissions),
    as the job's owner."""
    request = RequestFactory().get(path)
    request.user = job.owner
    request.LANGUAGE_CODE = job.language
    return request


def jobs_purge(*, days: int = 7) -> int:
    """Delete finished jobs older than ``days`` with their files (beat, daily)."""
    old = Job.objects.filter(finished_at__lt=timezone.now() - timedelta(days=days))
    count = 0
    for job in old.iterator(chunk_size=200):
        for file in (job.input_file, job.result_file):
            if file:
                file.delete(save=False)
        count += 1
    old.delete()
    return count


def params_of(job: Job, *keys: str) -> list[Any]:
    try:
        return [job.params[k] for k in keys]
    except KeyError as exc:
        raise JobError(_("The job is missing its parameters; start it again.")) from exc


# --- the admin's exports -----------------------------------------------------------------------


@handler("core.admin_export")
def admin_export(job: Job, progress: Progress) -> Outcome:
    """An admin export above ``EXPORT_JOB_MIN_ROWS`` rows: the chosen rows, read in chunks in
    the list's order, through the admin's resource and the one export layer."""
    from django.apps import apps
    from django.contrib import admin

    label, index, fmt, pks = params_of(job, "model", "resource", "fmt", "pks")
    model_admin = admin.site._registry[apps.get_model(label)]
    request = worker_request(job)
    if not model_admin.has_export_permission(request):
        raise JobError(_("You may no longer export this list."))
    resource_class = model_admin.get_export_resource_classes(request)[int(index)]
    resource = resource_class(**model_admin.get_export_resource_kwargs(request))
    base = model_admin.get_queryset(request)
    progress.set_total(len(pks))

    def instances():
        for start in range(0, len(pks), exports.CHUNK_SIZE):
            chunk = pks[start : start + exports.CHUNK_SIZE]
            found = {obj.pk: obj for obj in resource.filter_export(base.filter(pk__in=chunk))}
            yield from (found[pk] for pk in chunk if pk in found)

    sheet = exports.resource_sheet(
        resource, instances(), selected_fields=job.params.get("fields"), filtered=True
    )
    return export_outcome(
        progress,
        fmt,
        [sheet],
        filename=exports.dated_filename(model_admin.model._meta.verbose_name_plural),
    )
