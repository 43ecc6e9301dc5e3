"""Relief uploads never leave a file without its row: a rollback deletes what it wrote, and
``manage.py remove_orphan_files`` removes what a killed request left (after a grace period)."""

import io
import os
import time
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from cqa_portal.core.services.files import orphan_files_remove
from members import services
from members.models import ReliefDocument, ReliefRequest
from members.storage import private_storage

from .test_relief import PDF, _post

pytestmark = pytest.mark.django_db


def _files_on_disk() -> set[str]:
    root = Path(settings.PRIVATE_MEDIA_ROOT) / "relief"
    return {str(p.relative_to(settings.PRIVATE_MEDIA_ROOT)) for p in root.rglob("*") if p.is_file()}


def _upload(name="证明.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def test_rolled_back_upload_leaves_no_file(client, admin_member):
    before = _files_on_disk()
    client.force_login(admin_member.user)
    with mock.patch.object(
        services.relief, "relief_request_submit", side_effect=RuntimeError("killed")
    ):
        with pytest.raises(RuntimeError):
            _post(client, documents=[_upload(), _upload("b.pdf")])
    assert not ReliefRequest.objects.exists() and not ReliefDocument.objects.exists()
    assert _files_on_disk() == before


def test_row_that_fails_to_save_takes_its_file_with_it(admin_member):
    relief = ReliefRequest.objects.create(
        company=admin_member.company, year=2020, kind="waiver", created_by=admin_member.user
    )
    before = _files_on_disk()
    with mock.patch.object(ReliefDocument, "save", side_effect=RuntimeError("killed")):
        with pytest.raises(RuntimeError):
            services.relief_document_add(relief=relief, upload=_upload(), actor=None)
    assert _files_on_disk() == before


def test_command_removes_old_orphans_and_keeps_files_with_rows_and_young_ones(client, admin_member):
    client.force_login(admin_member.user)
    _post(client, documents=[_upload()])
    kept = ReliefDocument.objects.get().file.name
    storage = private_storage()
    # What a gunicorn worker killed between writing the file and committing its row leaves.
    old = storage.save("relief/2020/01/orphan.pdf", io.BytesIO(PDF))
    young = storage.save("relief/2020/01/still-uploading.pdf", io.BytesIO(PDF))
    hours_ago = time.time() - 3 * 3600
    os.utime(storage.path(old), (hours_ago, hours_ago))

    out = io.StringIO()
    call_command("remove_orphan_files", "--dry-run", stdout=out)
    assert f"would remove {old}" in out.getvalue()
    assert storage.exists(old)

    out = io.StringIO()
    call_command("remove_orphan_files", stdout=out)
    print(out.getvalue())
    assert f"removed {old}" in out.getvalue()
    assert not storage.exists(old)
    assert storage.exists(kept) and storage.exists(young)
    # Re-run: nothing more; with no grace the young orphan goes too.
    assert orphan_files_remove().orphans == []
    # (other tests' rolled-back rows may have left young files too)
    assert young in orphan_files_remove(older_than=timedelta(0)).orphans
    assert storage.exists(kept) and not storage.exists(young)
