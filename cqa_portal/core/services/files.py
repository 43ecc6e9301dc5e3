"""Uploaded files without a row: found and removed (a request killed after writing the file,
a rollback after the write). Every model ``FileField`` is covered."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.apps import apps
from django.db import models
from django.utils import timezone

logger = logging.getLogger(__name__)

# A file younger than this may belong to a request still running: never touched.
ORPHAN_GRACE = timedelta(hours=1)


@dataclass
class OrphanRun:
    checked: int = 0  # files found in the upload folders
    orphans: list[str] = field(default_factory=list)  # storage paths with no row
    removed: int = 0


def _file_fields():
    """(model, field, folder) for every FileField: the folder is the fixed part of
    ``upload_to`` (files outside it are not the field's)."""
    for model in apps.get_models():
        for model_field in model._meta.get_fields():
            if isinstance(model_field, models.FileField) and isinstance(model_field.upload_to, str):
                folder = model_field.upload_to.split("%", 1)[0].rsplit("/", 1)[0]
                if folder:
                    yield model, model_field, folder


def _walk(storage, folder: str):
    try:
        directories, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for directory in directories:
        yield from _walk(storage, f"{folder}/{directory}")


def orphan_files_remove(
    *, older_than: timedelta = ORPHAN_GRACE, dry_run: bool = False, now: datetime | None = None
) -> OrphanRun:
    """Delete every file in an upload folder that no row names and that is older than
    ``older_than``; with ``dry_run`` only list them. Safe to re-run."""
    cutoff = (now or timezone.now()) - older_than
    run = OrphanRun()
    for model, model_field, folder in _file_fields():
        storage = model_field.storage
        known = set(
            model._default_manager.exclude(**{model_field.name: ""}).values_list(
                model_field.name, flat=True
            )
        )
        for name in _walk(storage, folder):
            run.checked += 1
            if name in known or storage.get_modified_time(name) > cutoff:
                continue
            run.orphans.append(name)
            if not dry_run:
                storage.delete(name)
                run.removed += 1
                logger.warning("removed orphan upload %s (no %s row)", name, model.__name__)
    return run
