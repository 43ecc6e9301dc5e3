"""Staff exports: submitted responses (CSV or XLSX) and the summary (XLSX).

Responses: one row per response, company fields first, then one column per question and one
column per option of a multiple-choice question. The files are written by the portal's one
export layer (cqa_portal.core.exports): formulas neutralised, typed cells, translated headers
and sheet names. The responses are read in chunks and merged with their answers in order, so a
large survey is exported in constant memory.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.utils.translation import gettext as _

from cqa_portal.core import exports
from cqa_portal.core.exports import Sheet
from cqa_portal.core.numbers import percent
from cqa_portal.core.reference import PROVINCE_NAMES_ZH, IndustrySection, Province, RegionGroup

from .models import Answer, Question, Response, Survey
from .selectors import questions_of
from .summary import DIMENSIONS, compute_summary


def response_sheet(survey: Survey) -> Sheet:
    """The responses export: its header, and rows read in chunks (3 queries for the data,
    whatever its size)."""
    questions = questions_of(survey)
    other_details = _("other (details)")
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
    for number, question in enumerate(questions, 1):
        # Numbered as on the form (codes are for machines; a reader sees the question).
        label = f"{number}. {question.label}"
        if question.kind == Question.Kind.MULTIPLE:
            for option in question.options.all():
                columns[(question.pk, option.pk)] = len(header)
                header.append(f"{label}: {option.label}")
        else:
            columns[(question.pk, None)] = len(header)
            header.append(label)
        if question.is_choice and any(o.is_other for o in question.options.all()):
            columns[(question.pk, "other")] = len(header)
            header.append(f"{label}: {other_details}")
    context = {
        "kinds": {q.pk: q.kind for q in questions},
        "option_labels": {o.pk: o.label for q in questions for o in q.options.all()},
        "option_columns": {
            q.pk: [i for (qid, oid), i in columns.items() if qid == q.pk and isinstance(oid, int)]
            for q in questions
            if q.kind == Question.Kind.MULTIPLE
        },
        "columns": columns,
        "width": len(header),
    }
    return Sheet(title=_("Responses"), header=header, rows=_response_rows(survey, context))


def _response_rows(survey: Survey, context: dict) -> Iterator[list]:
    """One row per submitted response. Responses and answers are both read in (submitted_at,
    response) order and merged, so only the current row is held in memory."""
    kinds, columns = context["kinds"], context["columns"]
    option_labels, option_columns = context["option_labels"], context["option_columns"]
    submitted = {"survey": survey, "status": Response.Status.SUBMITTED}
    responses = (
        Response.objects.filter(**submitted)
        .select_related("company")
        .order_by("submitted_at", "pk")
    )
    answers = (
        Answer.objects.filter(
            response__survey=survey, response__status=Response.Status.SUBMITTED
        )
        .order_by("response__submitted_at", "response_id")
        .values_list(
            "response_id", "question_id", "option_id", "number", "text", "date",
            "response__submitted_at",
        )
        .iterator(chunk_size=5000)
    )  # fmt: skip
    pending = next(answers, None)
    for response in responses.iterator(chunk_size=2000):
        row = [None] * context["width"]
        row[0] = response.company.name
        row[1] = response.company.uscc
        row[2] = _province(response.province)
        row[3] = _choice_label(RegionGroup, response.region_group)
        row[4] = _choice_label(IndustrySection, response.industry_section)
        row[5] = response.industry_division
        row[6] = response.submitted_at
        answered: set[int] = set()
        # Answers of a response submitted while the export runs (not in this list) are skipped.
        while pending is not None and pending[0] != response.pk and _before(pending, response):
            pending = next(answers, None)
        while pending is not None and pending[0] == response.pk:
            _response_id, question_id, option_id, number, text, day, _at = pending
            pending = next(answers, None)
            kind = kinds.get(question_id)
            if kind is None:
                continue
            answered.add(question_id)
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
        for question_id in answered & option_columns.keys():
            for index in option_columns[question_id]:
                if row[index] is None:
                    row[index] = 0
        yield row


def _order(submitted_at, pk) -> tuple:
    """The database's (submitted_at, pk) order, empty times last."""
    return (submitted_at is None, submitted_at.timestamp() if submitted_at else 0, pk)


def _before(answer: tuple, response: Response) -> bool:
    """Whether the answer's response comes before this one in the export's order."""
    return _order(answer[-1], answer[0]) < _order(response.submitted_at, response.pk)


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


def responses_response(survey: Survey, fmt: str):
    """The responses as a CSV or XLSX download (404 for any other format)."""
    name = exports.dated_filename(f"{survey.slug}-{_('responses')}")
    return exports.export_response(fmt, [response_sheet(survey)], filename=name)


def summary_sheets(survey: Survey, data: dict) -> list[Sheet]:
    from .presentation import _text, _values, dimension_label, group_label, hidden_note

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
        for option in _values(question):
            distribution.append(
                [
                    question["code"],
                    _text(question),
                    option["code"],
                    option["label"],
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
            [_("Question"), _("Question text"), _("Answers"), _("Mean"), _("Minimum"),
             _("Lower quartile"), _("Median"), _("Upper quartile"), _("Maximum")],
            numbers,
        )
    )  # fmt: skip
    for dimension in DIMENSIONS:
        rows = []
        for question in data["questions"]:
            by = question.get("by", {}).get(dimension)
            if not by:
                continue
            answered_by = (question.get("answered_by") or {}).get(dimension) or {}
            for group, cells in sorted(by.items()):
                if cells is None:  # hidden on public figures: listed apart, below
                    continue
                for value in _values(question):
                    count = cells.get(value["code"], 0)
                    rows.append(
                        [
                            question["code"],
                            group_label(dimension, group),
                            value["code"],
                            value["label"],
                            count,
                            percent(count, answered_by.get(group, 0)),
                        ]
                    )
        sheets.append(
            (
                _("Cross-tab by %(dimension)s") % {"dimension": dimension_label(dimension)},
                [_("Question"), _("Group"), _("Option"), _("Option text"), _("Count"),
                 _("Percent")],
                rows,
            )
        )  # fmt: skip
    key = data.get("key") or {}
    for dimension, table in (key.get("tables") or {}).items():
        sheets.append(
            (
                _("Impact by %(dimension)s") % {"dimension": dimension_label(dimension)},
                [_("Group"), _("Responses"), _("Affected (%)"), _("Moderately or severely (%)"),
                 _("Not resumed (%)"), _("Partly resumed (%)"), _("Fully resumed (%)")],
                [
                    [group_label(dimension, r["group"]), r["responses"], r["affected_pct"],
                     r["serious_pct"], r["not_resumed_pct"], r["partly_pct"], r["fully_pct"]]
                    for r in table
                ],
            )
        )  # fmt: skip
    hidden = [
        [dimension_label(dimension), group_label(dimension, group), hidden_note(reason)]
        for dimension, groups in (data.get("hidden") or {}).items()
        for group, reason in groups.items()
    ]
    if hidden:
        sheets.append((_("Not shown separately"), [_("Dimension"), _("Group"), _("Why")], hidden))
    return [Sheet(title=title, header=header, rows=rows) for title, header, rows in sheets]


def public_summary_response(survey: Survey, data: dict):
    """The public figures of a survey (``summary.public_summary`` of its latest snapshot) as an
    XLSX download: the same suppression as the pages, hidden groups listed apart."""
    name = exports.dated_filename(f"{survey.slug}-{_('findings')}")
    return exports.xlsx_response(summary_sheets(survey, data), filename=name)


def summary_response(survey: Survey):
    """The summary as computed now (SQL aggregates), one sheet per table, as an XLSX download."""
    name = exports.dated_filename(f"{survey.slug}-{_('summary')}")
    return exports.xlsx_response(summary_sheets(survey, compute_summary(survey)), filename=name)
