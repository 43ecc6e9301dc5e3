"""Staff exports: submitted responses (CSV or XLSX) and the summary (XLSX).

Responses: one row per response, company fields first, then one column per question and one
column per option of a multiple-choice question. Text that a spreadsheet would run as a formula
(starting with = + - @, tab or carriage return) is neutralised: CSV cells get a leading
apostrophe, XLSX cells are written as plain text with Excel's quote prefix.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from cqa_portal.core.reference import PROVINCE_NAMES_ZH, IndustrySection, Province, RegionGroup

from .models import Answer, Question, Response, Survey
from .selectors import questions_of
from .summary import DIMENSIONS, compute_summary

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


def escape_formula(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _plain(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None)
    return value


def response_table(survey: Survey) -> tuple[list[str], list[list]]:
    """Header and rows of the responses export (3 queries for the data, whatever its size)."""
    questions = questions_of(survey)
    header = [
        _("Company"),
        _("Unified social credit code"),
        _("Province"),
        _("Region group"),
        _("Industry section"),
        _("Industry division"),
        _("Submitted at"),
    ]
    columns: dict[tuple, int] = {}
    for question in questions:
        label = f"{question.code} {question.label}"
        if question.kind == Question.Kind.MULTIPLE:
            for option in question.options.all():
                columns[(question.pk, option.pk)] = len(header)
                header.append(f"{label}: {option.label}")
        else:
            columns[(question.pk, None)] = len(header)
            header.append(label)
        if question.is_choice and any(o.is_other for o in question.options.all()):
            columns[(question.pk, "other")] = len(header)
            header.append(f"{label}: {_('other (details)')}")
    kinds = {q.pk: q.kind for q in questions}
    option_labels = {o.pk: o.label for q in questions for o in q.options.all()}
    multiple_ids = {q.pk for q in questions if q.kind == Question.Kind.MULTIPLE}

    responses = (
        Response.objects.filter(survey=survey, status=Response.Status.SUBMITTED)
        .select_related("company")
        .order_by("submitted_at", "pk")
    )
    rows: dict[int, list] = {}
    answered: dict[int, set] = {}
    for response in responses.iterator(chunk_size=2000):
        row = [None] * len(header)
        row[0] = response.company.name
        row[1] = response.company.uscc
        row[2] = _province(response.province)
        row[3] = _choice_label(RegionGroup, response.region_group)
        row[4] = _choice_label(IndustrySection, response.industry_section)
        row[5] = response.industry_division
        row[6] = response.submitted_at
        rows[response.pk] = row
        answered[response.pk] = set()
    answers = (
        Answer.objects.filter(response__survey=survey, response__status=Response.Status.SUBMITTED)
        .order_by()
        .values_list("response_id", "question_id", "option_id", "number", "text", "date")
    )
    for response_id, question_id, option_id, number, text, day in answers.iterator(chunk_size=5000):
        row = rows.get(response_id)
        if row is None:
            continue
        kind = kinds.get(question_id)
        answered[response_id].add(question_id)
        if kind == Question.Kind.MULTIPLE:
            row[columns[(question_id, option_id)]] = 1
        elif kind == Question.Kind.SINGLE:
            row[columns[(question_id, None)]] = option_labels.get(option_id, "")
        elif kind == Question.Kind.NUMBER:
            row[columns[(question_id, None)]] = number
        elif kind == Question.Kind.DATE:
            row[columns[(question_id, None)]] = day
        else:
            row[columns[(question_id, None)]] = text
        if option_id is not None and text and (question_id, "other") in columns:
            row[columns[(question_id, "other")]] = text
    # A multiple-choice question that was answered: unticked options are 0 (not blank).
    for response_id, row in rows.items():
        for question_id in multiple_ids & answered[response_id]:
            for (qid, oid), index in columns.items():
                if qid == question_id and isinstance(oid, int) and row[index] is None:
                    row[index] = 0
    return header, list(rows.values())


def _province(code: str) -> str:
    if not code:
        return ""
    return PROVINCE_NAMES_ZH.get(code) or _choice_label(Province, code)


def _choice_label(choices, value: str) -> str:
    if not value:
        return ""
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def responses_file(survey: Survey, fmt: str) -> tuple[bytes, str]:
    header, rows = response_table(survey)
    if fmt == "csv":
        return _csv(header, rows), CSV
    if fmt == "xlsx":
        return _xlsx([(_("Responses"), header, rows)]), XLSX
    raise Http404


def _csv(header: list, rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([escape_formula(h) for h in header])
    for row in rows:
        writer.writerow([escape_formula(_csv_value(v)) for v in row])
    # A byte-order mark, so spreadsheet programs read the Chinese text as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_value(value):
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _xlsx(sheets: list[tuple[str, list, list[list]]]) -> bytes:
    workbook = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=str(title)[:31])
        sheet.append([_xlsx_cell(sheet, h) for h in header])
        for row in rows:
            sheet.append([_xlsx_cell(sheet, v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(sheet, value):
    value = _plain(value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        cell.data_type = "s"
        cell.quotePrefix = True
    if isinstance(value, datetime):
        cell.number_format = "yyyy-mm-dd hh:mm"
    elif isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"
    return cell


def summary_sheets(survey: Survey, data: dict) -> list[tuple[str, list, list[list]]]:
    from .presentation import _text, group_label

    totals = data["totals"]
    sheets = [
        (
            _("Totals"),
            [_("Figure"), _("Value")],
            [
                [_("Survey"), survey.display_title],
                [_("Made at"), data["made_at"]],
                [_("Responses"), totals["responses"]],
                [_("Active members"), totals["active_members"]],
                [_("Active members that responded"), totals["responded_active"]],
                [_("Response rate (%)"), totals["response_rate"]],
            ],
        )
    ]
    distribution = []
    numbers = []
    for question in data["questions"]:
        for option in question.get("options", []):
            distribution.append(
                [
                    question["code"],
                    _text(question),
                    option["code"],
                    _text(option, "label"),
                    option["count"],
                    option["pct"],
                    question["answered"],
                ]
            )
        if "stats" in question:
            stats = question["stats"]
            numbers.append(
                [question["code"], _text(question)]
                + [stats.get(k) for k in ("n", "mean", "min", "q1", "median", "q3", "max")]
            )
    sheets.append(
        (
            _("Distributions"),
            [_("Question"), _("Question text"), _("Option"), _("Option text"), _("Count"),
             _("Percent"), _("Answered")],
            distribution,
        )
    )  # fmt: skip
    sheets.append(
        (
            _("Numbers"),
            [_("Question"), _("Question text"), "n", _("Mean"), _("Minimum"), _("Lower quartile"),
             _("Median"), _("Upper quartile"), _("Maximum")],
            numbers,
        )
    )  # fmt: skip
    for dimension in DIMENSIONS:
        rows = []
        for question in data["questions"]:
            by = question.get("by", {}).get(dimension)
            if not by:
                continue
            for group, cells in sorted(by.items()):
                for option in question["options"]:
                    rows.append(
                        [
                            question["code"],
                            group_label(dimension, group),
                            option["code"],
                            _text(option, "label"),
                            cells.get(option["code"], 0),
                        ]
                    )
        sheets.append(
            (
                _("Cross-tab by %(dimension)s") % {"dimension": dimension},
                [_("Question"), _("Group"), _("Option"), _("Option text"), _("Count")],
                rows,
            )
        )
    key = data.get("key") or {}
    for dimension, table in (key.get("tables") or {}).items():
        sheets.append(
            (
                _("Impact by %(dimension)s") % {"dimension": dimension},
                [_("Group"), _("Responses"), _("Affected (%)"), _("Moderately or severely (%)"),
                 _("Not resumed (%)"), _("Partly resumed (%)"), _("Fully resumed (%)")],
                [
                    [group_label(dimension, r["group"]), r["responses"], r["affected_pct"],
                     r["serious_pct"], r["not_resumed_pct"], r["partly_pct"], r["fully_pct"]]
                    for r in table
                ],
            )
        )  # fmt: skip
    return sheets


def summary_file(survey: Survey) -> tuple[bytes, str]:
    """The summary as computed now (SQL aggregates), one sheet per table."""
    return _xlsx(summary_sheets(survey, compute_summary(survey))), XLSX
