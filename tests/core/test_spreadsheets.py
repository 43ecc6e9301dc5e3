"""An XLSX workbook is checked for what it unpacks to before openpyxl reads it, in the one place
every import reads spreadsheets (cqa_portal.core.spreadsheets)."""

import io
import zipfile

import openpyxl
import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from courses import services as course_services
from cqa_portal.core.spreadsheets import check_workbook
from members.models import MemberCompany

MB = 1024 * 1024


def _workbook() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["name", "uscc", "province", "industry_section", "size_band", "level"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _bomb(unpacked_mb: int) -> bytes:
    """A real workbook whose shared strings part unpacks to ``unpacked_mb`` MB."""
    source = zipfile.ZipFile(io.BytesIO(_workbook()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != "xl/sharedStrings.xml":
                target.writestr(info, source.read(info))
        with target.open("xl/sharedStrings.xml", "w") as part:
            part.write(b'<?xml version="1.0"?><sst><si><t>')
            chunk = b"A" * MB
            for _ in range(unpacked_mb):
                part.write(chunk)
            part.write(b"</t></si></sst>")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb():
    return _bomb(400)


@pytest.fixture
def no_openpyxl(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("openpyxl must not read this file")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)
    monkeypatch.setattr("openpyxl.reader.excel.load_workbook", refuse)


def test_a_small_file_that_unpacks_to_400_mb_is_refused_unread(bomb, no_openpyxl):
    assert len(bomb) < 2 * MB
    with pytest.raises(ValidationError) as caught:
        check_workbook(bomb)
    assert "400 MB" in caught.value.messages[0]


def test_an_unusual_ratio_is_refused_even_under_the_size_limit():
    small_bomb = _bomb(20)  # 20 MB from about 20 KB
    with pytest.raises(ValidationError) as caught:
        check_workbook(small_bomb)
    assert caught.value.code == "workbook_ratio"


def test_ordinary_workbooks_and_other_files_pass():
    check_workbook(_workbook())
    check_workbook(b"name,uscc\n")
    handle = io.BytesIO(_workbook())
    handle.seek(0)
    check_workbook(handle)
    assert handle.tell() == 0


def test_admin_import_refuses_the_bomb_with_a_clear_message(staff_client, bomb, no_openpyxl):
    formats = admin.site._registry[MemberCompany].get_import_formats()
    xlsx = next(i for i, f in enumerate(formats) if f().get_extension() == "xlsx")
    response = staff_client.post(
        "/admin/members/membercompany/import/",
        {
            "resource": "0",
            "format": str(xlsx),
            "import_file": SimpleUploadedFile("c.xlsx", bomb),
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "解压后过大（400 MB，最多 100 MB）" in response.content.decode()
    assert not MemberCompany.objects.exists()


def test_attendance_import_refuses_the_bomb(db, bomb, no_openpyxl):
    result = course_services.attendance_import(data=bomb, file_format="xlsx", actor=None)
    assert not result.ok
    assert "解压后过大" in result.errors[0]
