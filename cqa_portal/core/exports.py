"""The one export layer: every spreadsheet the portal hands to staff (admin exports, survey
results, registrants) is written here.

- Text a spreadsheet could run as a formula is neutralised: a cell starting with ``= + - @``
  (ASCII or full-width ``＝ ＋ － ＠``), a tab, a carriage return or a line feed gets a leading
  apostrophe; the rest of the value is kept. Only text is touched: numbers stay numbers.
- CSV is UTF-8 with a byte-order mark (Excel then reads Chinese correctly), served as
  ``text/csv; charset=utf-8`` and streamed row by row.
- XLSX is written by openpyxl in write-only mode (constant memory) to a temporary file: numbers,
  dates (Beijing time, without time zone) and booleans are typed cells, empty values are empty
  cells, sheet names are translated and made valid.
- The file name is safe and, when it is Chinese, sent as RFC 5987 ``filename*``.

``resource_sheet`` turns a django-import-export resource (used for the admin's export page) into
a typed sheet: choices become their labels, related rows their names, many-to-many values their
labels joined by "、", headers the fields' verbose names in the active language.
"""

from __future__ import annotations

import codecs
import csv
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.manager import BaseManager
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.encoding import force_str
from django.utils.functional import Promise
from django.utils.http import content_disposition_header
from django.utils.translation import gettext
from import_export.widgets import Widget
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

BEIJING = ZoneInfo("Asia/Shanghai")
FORMULA_TRIGGERS = ("=", "+", "-", "@", "＝", "＋", "－", "＠", "\t", "\r", "\n")
LIST_SEPARATOR = "、"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")
CHUNK_SIZE = 2000

_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
_FILENAME_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')


def neutralise(value: Any) -> Any:
    """A text value a spreadsheet would read as a formula gets a leading apostrophe; anything
    else (numbers, dates, other text) is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def cell_value(value: Any) -> Any:
    """A value as a spreadsheet cell: None for empty, numbers/booleans/dates typed (datetimes
    in Beijing time without tzinfo), lazy strings and model rows as text, lists joined by
    "、", and any text neutralised."""
    if value is None or value == "":
        return None
    if isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value, BEIJING)
        return value.replace(tzinfo=None)
    if isinstance(value, date | time):
        return value
    if isinstance(value, BaseManager):
        value = list(value.all())
    if isinstance(value, list | tuple | set | frozenset):
        return cell_value(LIST_SEPARATOR.join(force_str(v) for v in value if v not in (None, "")))
    return neutralise(force_str(value))


def sheet_title(title: Any, taken: Iterable[str] = ()) -> str:
    """A valid, unique worksheet name: no []:*?/\\ or control characters, at most 31 chars."""
    text = _SHEET_FORBIDDEN.sub(" ", force_str(title or "")).strip().strip("'") or "Sheet"
    text = text[:31]
    taken = set(taken)
    candidate, number = text, 2
    while candidate in taken:
        suffix = f" ({number})"
        candidate = text[: 31 - len(suffix)] + suffix
        number += 1
    return candidate


def safe_filename(name: str, extension: str) -> str:
    """A file name without path separators, quotes or control characters."""
    stem = _FILENAME_FORBIDDEN.sub("-", force_str(name)).strip(" .-") or "export"
    return f"{stem[:120]}.{extension}"


@dataclass
class Sheet:
    """One table: a title, a header row and the data rows (any iterable, consumed once)."""

    title: Any
    header: Sequence[Any]
    rows: Iterable[Sequence[Any]]


# --- writers -----------------------------------------------------------------------------------


class _Echo:
    def write(self, value):
        return value


def _csv_text(value: Any) -> str:
    value = cell_value(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def iter_csv(sheet: Sheet) -> Iterator[bytes]:
    """The sheet as UTF-8 CSV bytes, byte-order mark first, one row at a time."""
    writer = csv.writer(_Echo())
    yield codecs.BOM_UTF8
    yield writer.writerow([_csv_text(h) for h in sheet.header]).encode("utf-8")
    for row in sheet.rows:
        yield writer.writerow([_csv_text(v) for v in row]).encode("utf-8")


def csv_bytes(sheet: Sheet) -> bytes:
    return b"".join(iter_csv(sheet))


def _xlsx_cell(worksheet, value: Any):
    """A cell value for a write-only sheet. Plain values are cheapest (openpyxl gives dates
    their date format); a neutralised text gets Excel's quote prefix as well, so editing the
    cell keeps it text. Characters XML cannot carry (control characters) become U+FFFD
    instead of failing the whole export."""
    value = cell_value(value)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
        if value.startswith("'"):
            cell = WriteOnlyCell(worksheet, value=value)
            cell.data_type = "s"
            cell.quotePrefix = True
            return cell
    return value


def write_xlsx(sheets: Iterable[Sheet], target) -> None:
    """Write the sheets to ``target`` (a path or binary file) in constant memory."""
    workbook = Workbook(write_only=True)
    titles: list[str] = []
    for sheet in sheets:
        title = sheet_title(sheet.title, titles)
        titles.append(title)
        worksheet = workbook.create_sheet(title=title)
        worksheet.append([_xlsx_cell(worksheet, force_str(h)) for h in sheet.header])
        for row in sheet.rows:
            worksheet.append([_xlsx_cell(worksheet, v) for v in row])
    if not titles:
        workbook.create_sheet(title=sheet_title(gettext("Export")))
    workbook.save(target)


def xlsx_bytes(sheets: Iterable[Sheet]) -> bytes:
    with tempfile.TemporaryFile() as handle:
        write_xlsx(sheets, handle)
        handle.seek(0)
        return handle.read()


# --- responses ---------------------------------------------------------------------------------


def csv_response(sheet: Sheet, *, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(iter_csv(sheet), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(
        True, safe_filename(filename, "csv")
    )
    response["Cache-Control"] = "no-store"
    return response


def xlsx_response(sheets: Iterable[Sheet], *, filename: str) -> FileResponse:
    handle = tempfile.TemporaryFile()  # closed by the response once sent
    write_xlsx(sheets, handle)
    handle.seek(0)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=safe_filename(filename, "xlsx"),
        content_type=XLSX_CONTENT_TYPE,
    )
    response["Cache-Control"] = "no-store"
    return response


def export_response(fmt: str, sheets: Sequence[Sheet], *, filename: str):
    """The sheets as a download: CSV (the first sheet) or XLSX (every sheet); 404 otherwise."""
    if fmt == "csv":
        return csv_response(sheets[0], filename=filename)
    if fmt == "xlsx":
        return xlsx_response(sheets, filename=filename)
    raise Http404


def dated_filename(name: Any) -> str:
    return f"{force_str(name)}-{timezone.localtime(timezone.now(), BEIJING):%Y%m%d-%H%M}"


# --- django-import-export resources as typed sheets ------------------------------------------


def _model_field(model, path: str):
    """The model field at the end of an ``a__b`` path, or None."""
    field = None
    for part in path.split("__"):
        if model is None:
            return None
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        model = field.related_model
    return field


def field_header(resource, field) -> str:
    """The column's header: the resource's ``export_headers`` entry, a translated column name,
    or the model field's verbose name (for columns named after the import's keys)."""
    name = resource.get_field_name(field) if hasattr(resource, "get_field_name") else ""
    headers = getattr(resource, "export_headers", {}) or {}
    if name in headers:
        return force_str(headers[name])
    if isinstance(field.column_name, Promise):
        return force_str(field.column_name)
    model_field = _model_field(resource._meta.model, field.attribute or "")
    if model_field is not None and getattr(model_field, "verbose_name", None):
        return force_str(model_field.verbose_name)
    return force_str(field.column_name)


def accept_export_headers(resource, dataset) -> None:
    """An export opened, corrected and uploaded again has the export's translated headers
    (Chinese or English): rename them to the import's column names, so that a file goes both
    ways. Headers that already are column names, or that no field exports, are left alone."""
    if not dataset.headers:
        return
    columns = {field.column_name for field in resource.get_import_fields()}
    aliases: dict[str, str] = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            for field in resource.get_import_fields():
                aliases.setdefault(
                    field_header(resource, field).strip().casefold(), field.column_name
                )
    renamed = []
    for header in dataset.headers:
        text = str(header).strip() if header is not None else ""
        renamed.append(text if text in columns else aliases.get(text.casefold(), header))
    dataset.headers = renamed


class ChoiceLabel(Widget):
    """An import-export widget exporting a choice as its label in the active language."""

    def __init__(self, choices, **kwargs):
        self.labels = dict(choices)
        super().__init__(**kwargs)

    def render(self, value, obj=None, **kwargs):
        return force_str(self.labels.get(value, value or ""))


def _typed_value(resource, field, instance) -> Any:
    method = field.get_dehydrate_method(resource.get_field_name(field))
    method = method if callable(method) else getattr(resource, method, None)
    if method is not None:
        return method(instance)
    value = field.get_value(instance)
    if value is None or value == "":
        return None
    if isinstance(field.widget, ChoiceLabel):
        return field.widget.render(value)
    model_field = _model_field(resource._meta.model, field.attribute or "")
    if model_field is not None and model_field.choices and not isinstance(value, models.Model):
        return dict(model_field.flatchoices).get(value, value)
    if isinstance(value, models.Model):
        lookup = getattr(field.widget, "field", "pk")
        if lookup not in ("pk", "id", None) and getattr(field.widget, "model", None):
            return field.widget.render(value)  # the import's key (a code or slug)
        return str(value)
    return value


def resource_sheet(
    resource, queryset, *, selected_fields=None, title: Any = None, filtered: bool = False
) -> Sheet:
    """The resource's export (respecting its ``filter_export`` and the chosen fields) as a
    typed sheet, reading the queryset in chunks. ``filtered``: the rows are an iterable the
    caller already passed through ``filter_export`` (a background export reads in chunks)."""
    if not filtered:
        queryset = resource.filter_export(queryset)
    fields = resource.get_export_fields(selected_fields)
    header = [field_header(resource, f) for f in fields]

    def rows() -> Iterator[list]:
        for instance in _iterate(queryset):
            yield [_typed_value(resource, f, instance) for f in fields]

    if title is None:
        title = (
            getattr(resource._meta, "name", None) or resource._meta.model._meta.verbose_name_plural
        )
    return Sheet(title=title, header=header, rows=rows())


def _iterate(queryset) -> Iterator[Any]:
    if not isinstance(queryset, models.QuerySet):
        yield from queryset
        return
    if not queryset.query.order_by and not queryset.ordered:
        queryset = queryset.order_by("pk")
    yield from queryset.iterator(chunk_size=CHUNK_SIZE)
