"""Reading uploaded spreadsheets, for every import (the admin's import-export pages and the
services that take a file): one way to decode CSV text and to check an XLSX workbook before
openpyxl unpacks it.

An XLSX file is a zip archive. The upload limit applies to the compressed file, and 1 MB can
unpack to hundreds of megabytes of XML (a "zip bomb"): the sizes the archive declares for its
members are checked first (Python's zipfile never unpacks more than a member declares).
"""

from __future__ import annotations

import io
import zipfile

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_UNPACKED_BYTES = 100 * 1024 * 1024
# Spreadsheets compress well, but not by more than this; a bomb does.
MAX_UNPACK_RATIO = 200


def decode_csv(data: bytes) -> str:
    """CSV files saved by Chinese Excel are often GBK (GB 18030), not UTF-8: accept both."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def check_workbook(upload) -> None:
    """Refuse a zip archive (an XLSX workbook) that would unpack to too much, whichever format
    was chosen. ``upload`` is bytes or a file; a file is left at its start. Anything that is
    not a zip archive is left to the reader."""
    handle = io.BytesIO(upload) if isinstance(upload, bytes | bytearray) else upload
    start = handle.tell()
    try:
        if not zipfile.is_zipfile(handle):
            return
        handle.seek(start)
        size = handle.seek(0, io.SEEK_END) - start
        handle.seek(start)
        try:
            with zipfile.ZipFile(handle) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return
    finally:
        handle.seek(start)
    if unpacked > MAX_UNPACKED_BYTES:
        raise ValidationError(
            _(
                "The workbook is too large once unpacked (%(size)d MB, at most %(limit)d MB). "
                "Split it into smaller files or save it as CSV."
            ),
            code="workbook_too_large",
            params={
                "size": unpacked // (1024 * 1024),
                "limit": MAX_UNPACKED_BYTES // (1024 * 1024),
            },
        )
    if unpacked > MAX_UNPACK_RATIO * max(size, 1):
        raise ValidationError(
            _(
                "The workbook unpacks to %(ratio)d times its size, which a spreadsheet never "
                "does, so it was not read. Save it again from Excel or as CSV."
            ),
            code="workbook_ratio",
            params={"ratio": unpacked // max(size, 1)},
        )
