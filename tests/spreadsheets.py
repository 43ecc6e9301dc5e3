"""Shared by the export tests: hostile cell values and readers for the downloaded files."""

import csv
import io

from openpyxl import load_workbook

# Values a spreadsheet would run as formulas (or that hide one behind a control character).
HOSTILE = [
    "=1+1",
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "＝1+1",
    "\t=1",
    "\r=1",
]
TRIGGERS = ("=", "+", "-", "@", "＝", "＋", "－", "＠", "\t", "\r", "\n")


def body(response) -> bytes:
    """The bytes of a download, streamed or not."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def csv_rows(response) -> list[list[str]]:
    data = body(response)
    assert data.startswith(b"\xef\xbb\xbf"), data[:20]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def workbook(response):
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return load_workbook(io.BytesIO(body(response)))


def assert_no_formula(values) -> None:
    """No text starts with a formula trigger unescaped (and no XLSX formula cells)."""
    for value in values:
        if isinstance(value, str):
            assert not value.startswith(TRIGGERS), repr(value)


def xlsx_cells(book):
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def assert_safe_workbook(book) -> None:
    cells = xlsx_cells(book)
    assert not any(cell.data_type == "f" for cell in cells)
    assert_no_formula(cell.value for cell in cells)
    assert "None" not in [cell.value for cell in cells]
    assert "Tablib Dataset" not in book.sheetnames
