"""The survey summary, computed in the database.

Every figure comes from GROUP BY / conditional aggregation queries over ``Answer`` joined to
``Response``; no response is ever loaded into Python. The number of queries is fixed (it depends
on neither the number of responses nor the number of questions). Python only reshapes the
aggregate rows (one per combination of groups and answer values) into the JSON stored in a
``SummarySnapshot``.

Breakdowns: every question that has values to count (single and multiple choice, numbers in
bands, dates by month) is broken down by each of ``DIMENSIONS``. One scan of the answers groups
them by question, value and all the dimension columns together; each breakdown is a sum of those
rows. Each response belongs to one combination, so companies that answered a multiple-choice
question (counted per response, not per option) also add up across combinations.

Quartiles: PostgreSQL computes them with ``percentile_cont`` (an ordered-set aggregate); other
databases (SQLite for ``make run``) use one window-function query that returns, per question,
only the two ordered values around each quartile, interpolated the same way.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    Max,
    Min,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone

from cqa_portal.core.numbers import percent
from cqa_portal.core.reference import RegionGroup
from members.models import MemberCompany

from . import covid
from .models import Answer, Question, QuestionOption, Response, Survey

SUMMARY_VERSION = 2
# Quartiles as fractions k/4, so SQL can find positions with integer division on any backend.
QUARTERS = {"q1": 1, "median": 2, "q3": 3}
QUANTILES = {name: k / 4 for name, k in QUARTERS.items()}
# Breakdowns: the name in the summary and the column copied onto the response at submission.
DIMENSIONS = {
    "region": "region_group",
    "province": "province",
    "industry": "industry_section",
    "division": "industry_division",
    "size": "size_band",
}
# Finer dimensions inside coarser ones: suppression must not let a parent's total give away a
# single hidden child.
PARENTS = {"province": "region", "division": "industry"}
# Kinds with values to count, so they are broken down and can be crossed with each other.
COUNTED_KINDS = (
    Question.Kind.SINGLE,
    Question.Kind.MULTIPLE,
    Question.Kind.NUMBER,
    Question.Kind.DATE,
)
# Number questions with a minimum and a maximum are counted in this many equal bands; others in
# the four bands between their quartiles.
NUMBER_BANDS = 5
# Groups smaller than this are not shown on public pages.
MIN_PUBLIC_GROUP = 5


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``."""

    function = "percentile_cont"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        fraction = float(fraction)
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, fraction=repr(fraction), **extra)


def _pct(part: int, whole: int) -> float | None:
    """Half up on exact decimals (``core.numbers.percent``): 13/16 is 81.3."""
    return percent(part, whole)


def _num(value) -> float | None:
    return None if value is None else round(float(value), 4)


def submitted_answers(survey: Survey):
    return Answer.objects.filter(
        response__survey=survey, response__status=Response.Status.SUBMITTED
    ).order_by()


def submitted_responses(survey: Survey):
    return Response.objects.filter(survey=survey, status=Response.Status.SUBMITTED).order_by()


# --- Number bands --------------------------------------------------------------------------


def _edge_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def number_bands(question: Question, stats: dict) -> list[dict]:
    """The bands a number question is counted in: ``NUMBER_BANDS`` equal ones between its
    minimum and maximum when both are set, else the four between its answers' quartiles. Each
    band holds its lower edge; the last one also its upper edge."""
    low, high = question.min_value, question.max_value
    if low is not None and high is not None and high > low:
        step = (Decimal(high) - Decimal(low)) / NUMBER_BANDS
        edges = [Decimal(low) + step * i for i in range(NUMBER_BANDS)] + [Decimal(high)]
    elif stats.get("n"):
        edges = sorted({Decimal(str(stats[k])) for k in ("min", "q1", "median", "q3", "max")})
        if len(edges) == 1:
            edges = edges * 2
    else:
        return []
    whole = question.decimal_places == 0 and all(e == e.to_integral_value() for e in edges)
    bands = []
    for i in range(len(edges) - 1):
        last = i == len(edges) - 2
        top = edges[i + 1] if last or not whole else max(edges[i], edges[i + 1] - 1)
        label = (
            _edge_text(edges[i]) if top == edges[i] else f"{_edge_text(edges[i])}–{_edge_text(top)}"
        )
        if not last and not whole:
            label = f"{_edge_text(edges[i])}–<{_edge_text(edges[i + 1])}"
        bands.append(
            {
                "code": f"b{i + 1}",
                "label": label,
                "low": edges[i],
                "high": edges[i + 1],
                "last": last,
            }
        )
    return bands


def _band_expression(prefix: str, bands: dict[int, list[dict]], question_field: str):
    """SQL CASE giving each number answer its band code (NULL for every other answer)."""
    whens = [
        When(
            **{
                question_field: question_id,
                f"{prefix}number__gte": band["low"],
                f"{prefix}number__{'lte' if band['last'] else 'lt'}": band["high"],
            },
            then=Value(band["code"]),
        )
        for question_id, question_bands in bands.items()
        for band in question_bands
    ]
    if not whens:
        return Value(None, output_field=CharField())
    return Case(*whens, default=Value(None), output_field=CharField())


def _public_bands(bands: list[dict]) -> list[dict]:
    return [
        {"code": b["code"], "label": b["label"], "low": float(b["low"]), "high": float(b["high"])}
        for b in bands
    ]


# --- The aggregate queries -------------------------------------------------------------------


@dataclass
class _Figures:
    """The aggregate rows of one survey, reshaped per question for ``_question_entry``."""

    answered: dict[int, int]
    answered_by: dict[int, dict[str, dict[str, int]]]
    counts: dict[int, dict[str, int]]
    by: dict[int, dict[str, dict[str, dict[str, int]]]]
    other_texts: dict[int, int]
    stats: dict[int, dict]
    bands: dict[int, list[dict]]
    conditions: dict[int, list[int]]
    option_by_question: dict[int, list[QuestionOption]]
    code_of_option: dict[int, str]
    code_of_question: dict[int, str]


def _condition_options(survey: Survey) -> dict[int, list[int]]:
    """The options of its condition question that show each conditional question."""
    conditions = defaultdict(list)
    for question_id, option_id in Question.condition_options.through.objects.filter(
        question__survey=survey
    ).values_list("question_id", "questionoption_id"):
        conditions[question_id].append(option_id)
    return conditions


def _per_group():
    """``[dimension][group]`` → a count."""
    return {dimension: defaultdict(int) for dimension in DIMENSIONS}


def _nested():
    """``[dimension][group][value]`` → a count."""
    return {dimension: defaultdict(lambda: defaultdict(int)) for dimension in DIMENSIONS}


def _group_sizes(survey: Survey, multiple_ids: list[int]):
    """Responses in all and of active members, the size of each group, which coarser group
    each finer one lies in, and the companies that answered each multiple-choice question per
    group.

    One GROUP BY over all the dimension columns together, summed per dimension; a
    multiple-choice question is answered by a response that has any of its options (EXISTS)."""
    columns = list(DIMENSIONS.values())
    group_sizes = {dimension: defaultdict(int) for dimension in DIMENSIONS}
    parents = {child: defaultdict(set) for child in PARENTS}
    answered = defaultdict(int)
    answered_by = defaultdict(_per_group)
    total = responded_active = 0
    chose = {
        f"m{question_id}": Count(
            "pk",
            filter=Exists(
                Answer.objects.filter(response_id=OuterRef("pk"), question_id=question_id)
            ),
        )
        for question_id in multiple_ids
    }
    for row in (
        submitted_responses(survey)
        .values(*columns)
        .annotate(
            n=Count("pk"),
            active=Count("pk", filter=Q(company__status=MemberCompany.Status.ACTIVE)),
            **chose,
        )
    ):
        total += row["n"]
        responded_active += row["active"]
        groups = {dimension: row[column] for dimension, column in DIMENSIONS.items()}
        for dimension, group in groups.items():
            if group:
                group_sizes[dimension][group] += row["n"]
        for child, parent in PARENTS.items():
            if groups[child] and groups[parent]:
                parents[child][groups[child]].add(groups[parent])
        for question_id in multiple_ids:
            n = row[f"m{question_id}"]
            answered[question_id] += n
            for dimension, group in groups.items():
                if group and n:
                    answered_by[question_id][dimension][group] += n
    hierarchy = {
        child: {group: next(iter(of)) for group, of in sorted(groups.items()) if len(of) == 1}
        for child, groups in parents.items()
    }
    return (
        total,
        responded_active,
        {d: dict(sizes) for d, sizes in group_sizes.items()},
        hierarchy,
        answered,
        answered_by,
    )


def _tally(survey: Survey, questions: list[Question], bands, code_of_option, figures) -> None:
    """Every answer counted by question and value (option, number band or month) and by all
    the dimension columns together, in one scan; fills the overall counts, the breakdowns, the
    "other" texts, and the answered counts of every kind except multiple choice."""
    multiple_ids = {q.pk for q in questions if q.kind == Question.Kind.MULTIPLE}
    group_columns = {dimension: f"response__{column}" for dimension, column in DIMENSIONS.items()}
    rows = (
        submitted_answers(survey)
        .annotate(band=_band_expression("", bands, "question_id"), month=TruncMonth("date"))
        .values(*group_columns.values(), "question_id", "option_id", "band", "month")
        .annotate(n=Count("pk"), texts=Count("pk", filter=~Q(text="")))
    )
    for row in rows:
        question_id, n = row["question_id"], row["n"]
        if row["option_id"] is not None:
            value = code_of_option.get(row["option_id"])
            figures.other_texts[question_id] += row["texts"]
        elif row["band"] is not None:
            value = row["band"]
        elif row["month"] is not None:
            value = row["month"].strftime("%Y-%m")
        else:
            value = None
        groups = [(d, row[column]) for d, column in group_columns.items() if row[column]]
        if question_id not in multiple_ids:
            figures.answered[question_id] += n
            for dimension, group in groups:
                figures.answered_by[question_id][dimension][group] += n
        if value is None:
            continue
        figures.counts[question_id][value] += n
        for dimension, group in groups:
            figures.by[question_id][dimension][group][value] += n


def _plain(nested) -> dict:
    if isinstance(nested, dict):
        return {key: _plain(value) for key, value in nested.items()}
    return nested


def _choice_fields(question: Question, base: int, figures: _Figures) -> dict:
    """Options with counts and shares, "other" texts, and the ranking (multiple choice)."""
    counts = figures.counts.get(question.pk, {})
    entry: dict = {
        "options": [
            {
                "code": o.code,
                "label": o.label_zh,
                "label_en": o.label_en,
                "count": counts.get(o.code, 0),
                "pct": _pct(counts.get(o.code, 0), base),
            }
            for o in figures.option_by_question[question.pk]
        ],
        "other_texts": figures.other_texts.get(question.pk, 0),
    }
    if question.kind == Question.Kind.MULTIPLE:
        entry["ranking"] = [
            o["code"] for o in sorted(entry["options"], key=lambda o: -o["count"]) if o["count"]
        ]
    return entry


def _question_entry(question: Question, figures: _Figures) -> dict:
    """The summary of one question, with its breakdowns by every dimension."""
    base = figures.answered.get(question.pk, 0)
    entry = {
        "id": question.pk,
        "code": question.code,
        "kind": question.kind,
        "text": question.text,
        "text_en": question.text_en,
        "required": question.required,
        "answered": base,
    }
    if question.condition_question_id:
        entry["condition"] = {
            "question": figures.code_of_question.get(question.condition_question_id),
            "options": [figures.code_of_option[o] for o in figures.conditions[question.pk]],
        }
    counts = figures.counts.get(question.pk, {})
    if question.is_choice:
        entry.update(_choice_fields(question, base, figures))
    if question.kind == Question.Kind.NUMBER:
        entry["stats"] = figures.stats.get(question.pk, {"n": 0})
        entry["bands"] = [
            {
                **band,
                "count": counts.get(band["code"], 0),
                "pct": _pct(counts.get(band["code"], 0), base),
            }
            for band in _public_bands(figures.bands.get(question.pk, []))
        ]
    if question.kind == Question.Kind.DATE:
        entry["months"] = [
            {"month": month, "count": counts[month], "pct": _pct(counts[month], base)}
            for month in sorted(counts)
        ]
    if question.kind in COUNTED_KINDS:
        by = figures.by.get(question.pk) or {}
        answered_by = figures.answered_by.get(question.pk) or {}
        entry["by"] = {dimension: _plain(dict(by.get(dimension, {}))) for dimension in DIMENSIONS}
        entry["answered_by"] = {
            dimension: dict(answered_by.get(dimension, {})) for dimension in DIMENSIONS
        }
    return entry


def compute_summary(survey: Survey) -> dict:
    """The whole summary of a survey's submitted responses, as JSON-ready data."""
    questions = list(survey.questions.order_by("order", "pk"))
    options = list(
        QuestionOption.objects.filter(question__survey=survey).order_by("question_id", "order")
    )
    conditions = _condition_options(survey)
    active_members = MemberCompany.objects.filter(status=MemberCompany.Status.ACTIVE).count()
    multiple_ids = [q.pk for q in questions if q.kind == Question.Kind.MULTIPLE]
    total, responded_active, group_sizes, hierarchy, answered, answered_by = _group_sizes(
        survey, multiple_ids
    )
    number_questions = [q for q in questions if q.kind == Question.Kind.NUMBER]
    stats = number_stats(survey, [q.pk for q in number_questions])
    bands = {q.pk: number_bands(q, stats.get(q.pk, {})) for q in number_questions}

    option_by_question = defaultdict(list)
    for option in options:
        option_by_question[option.question_id].append(option)
    code_of_option = {o.pk: o.code for o in options}
    figures = _Figures(
        answered=answered,
        answered_by=answered_by,
        counts=defaultdict(lambda: defaultdict(int)),
        by=defaultdict(_nested),
        other_texts=defaultdict(int),
        stats=stats,
        bands=bands,
        conditions=conditions,
        option_by_question=option_by_question,
        code_of_option=code_of_option,
        code_of_question={q.pk: q.code for q in questions},
    )
    _tally(survey, questions, bands, code_of_option, figures)
    data = {
        "version": SUMMARY_VERSION,
        "made_at": timezone.now().isoformat(),
        "survey": {
            "id": survey.pk,
            "slug": survey.slug,
            "title": survey.title,
            "title_en": survey.title_en,
        },
        "totals": {
            "responses": total,
            "active_members": active_members,
            "responded_active": responded_active,
            "response_rate": _pct(responded_active, active_members),
        },
        "groups": group_sizes,
        "parents": hierarchy,
        "questions": [_question_entry(question, figures) for question in questions],
    }
    data["key"] = key_figures(data)
    return data


def number_stats(survey: Survey, question_ids: list[int]) -> dict[int, dict]:
    """Count, mean, minimum, quartiles and maximum of each number question."""
    if not question_ids:
        return {}
    answers = submitted_answers(survey).filter(question_id__in=question_ids, number__isnull=False)
    aggregates = {
        "n": Count("number"),
        "mean": Avg("number"),
        "min": Min("number"),
        "max": Max("number"),
    }
    postgres = connection.vendor == "postgresql"
    if postgres:
        aggregates.update(
            {name: PercentileCont("number", fraction) for name, fraction in QUANTILES.items()}
        )
    result = {}
    for row in answers.values("question_id").annotate(**aggregates):
        result[row["question_id"]] = {
            "n": row["n"],
            "mean": _num(row["mean"]),
            "min": _num(row["min"]),
            "max": _num(row["max"]),
            **{name: _num(row.get(name)) for name in QUANTILES},
        }
    if not postgres:
        for question_id, quartiles in quantiles_by_window(survey, question_ids).items():
            result[question_id].update(quartiles)
    return result


def quantiles_by_window(survey: Survey, question_ids: list[int]) -> dict[int, dict]:
    """Quartiles with linear interpolation (as ``percentile_cont``), in one SQL query.

    The inner query numbers each question's values in order; the outer one keeps only the rows
    at positions floor(k·(n−1)/4) and the next one for each quartile k/4 (integer division, the
    same on SQLite and PostgreSQL): at most six rows per question reach Python, whatever the
    number of responses.
    """
    answer_table = Answer._meta.db_table
    response_table = Response._meta.db_table
    placeholders = ", ".join(["%s"] * len(question_ids))
    positions = " OR ".join(
        f"t.rn = ({k} * (t.cnt - 1)) / 4 OR t.rn = ({k} * (t.cnt - 1)) / 4 + 1"
        for k in QUARTERS.values()
    )
    sql = f"""
        SELECT t.question_id, t.rn, t.cnt, t.number FROM (
            SELECT a.question_id, a.number,
                   ROW_NUMBER() OVER (PARTITION BY a.question_id ORDER BY a.number) - 1 AS rn,
                   COUNT(*) OVER (PARTITION BY a.question_id) AS cnt
            FROM {answer_table} a
            JOIN {response_table} r ON r.id = a.response_id
            WHERE r.survey_id = %s AND r.status = %s AND a.number IS NOT NULL
              AND a.question_id IN ({placeholders})
        ) t
        WHERE {positions}
    """  # noqa: S608 - table names from model metadata, values as parameters
    values: dict[int, dict[int, float]] = defaultdict(dict)
    counts: dict[int, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [survey.pk, Response.Status.SUBMITTED, *question_ids])
        for question_id, position, count, number in cursor.fetchall():
            values[question_id][position] = float(number)
            counts[question_id] = count
    result = {}
    for question_id, count in counts.items():
        ordered = values[question_id]
        result[question_id] = {}
        for name, fraction in QUANTILES.items():
            position = fraction * (count - 1)
            lower = math.floor(position)
            low = ordered[lower]
            high = ordered.get(lower + 1, low)
            result[question_id][name] = _num(low + (position - lower) * (high - low))
    return result


# --- Headline figures of the impact survey (by question and option codes) -------------------


def _question(data: dict, code: str) -> dict | None:
    return next((q for q in data["questions"] if q["code"] == code), None)


def _counts(question: dict) -> dict[str, int]:
    return {o["code"]: o["count"] for o in question["options"]}


def _impact_row(degree: dict[str, int], resumption: dict[str, int]) -> dict:
    answered = sum(degree.values())
    affected = answered - degree.get(covid.IMPACT_NONE, 0)
    serious = sum(degree.get(code, 0) for code in covid.IMPACT_SERIOUS)
    resumed_answered = sum(resumption.values())
    return {
        "answered": answered,
        "affected": affected,
        "affected_pct": _pct(affected, answered),
        "serious": serious,
        "serious_pct": _pct(serious, answered),
        "not_resumed": resumption.get(covid.NOT_RESUMED, 0),
        "not_resumed_pct": _pct(resumption.get(covid.NOT_RESUMED, 0), resumed_answered),
        "partly_pct": _pct(resumption.get(covid.RESUMED_PARTLY, 0), resumed_answered),
        "fully_pct": _pct(resumption.get(covid.RESUMED_FULLY, 0), resumed_answered),
    }


def key_figures(data: dict) -> dict:
    """Share affected, resumption among the resumed, and impact by region and by industry.

    Present only when the survey has the impact-degree and resumption questions (by code).
    """
    impact = _question(data, covid.IMPACT_QUESTION)
    resumption = _question(data, covid.RESUMPTION_QUESTION)
    if not impact or not resumption or impact["kind"] != Question.Kind.SINGLE:
        return {}
    degree = _counts(impact)
    resumed = _counts(resumption)
    fully = resumed.get(covid.RESUMED_FULLY, 0)
    partly = resumed.get(covid.RESUMED_PARTLY, 0)
    key = {
        "overall": _impact_row(degree, resumed),
        "resumed": fully + partly,
        "fully_among_resumed_pct": _pct(fully, fully + partly),
        "partly_among_resumed_pct": _pct(partly, fully + partly),
        "tables": {},
    }
    for dimension in DIMENSIONS:
        rows = []
        for group, size in data["groups"][dimension].items():
            row = _impact_row(
                impact["by"][dimension].get(group, {}), resumption["by"][dimension].get(group, {})
            )
            rows.append({"group": group, "responses": size, **row})
        rows.sort(key=lambda r: (-(r["serious_pct"] or 0), -(r["affected_pct"] or 0), r["group"]))
        key["tables"][dimension] = rows
    hubei = next((r for r in key["tables"]["region"] if r["group"] == RegionGroup.HUBEI), None)
    key["hubei"] = hubei
    for code in (covid.AREAS_QUESTION, covid.NEEDS_QUESTION):
        question = _question(data, code)
        if question and question.get("ranking") is not None:
            key[code] = question["ranking"]
    return key


# --- Any question crossed with any other (staff) -------------------------------------------


def _value_expression(prefix: str, question: Question, bands: list[dict]):
    """The value an answer counts under (option id, band code or month), as SQL."""
    if question.is_choice:
        return F(f"{prefix}option_id")
    if question.kind == Question.Kind.NUMBER:
        return _band_expression(prefix, {question.pk: bands}, f"{prefix}question_id")
    return TruncMonth(f"{prefix}date")


def _value_code(value, question: Question, code_of_option: dict[int, str]) -> str | None:
    if value is None:
        return None
    if question.is_choice:
        return code_of_option.get(value)
    if question.kind == Question.Kind.DATE:
        return value.strftime("%Y-%m")
    return value


def _axis(question: Question, options: list[QuestionOption], bands: list[dict], seen) -> dict:
    if question.is_choice:
        values = [{"code": o.code, "label": o.label_zh, "label_en": o.label_en} for o in options]
    elif question.kind == Question.Kind.NUMBER:
        values = [{"code": b["code"], "label": b["label"], "label_en": b["label"]} for b in bands]
    else:
        values = [{"code": m, "label": m, "label_en": m} for m in sorted(v for v in seen if v)]
    return {
        "code": question.code,
        "kind": question.kind,
        "text": question.text,
        "text_en": question.text_en,
        "values": values,
    }


def cross_tab(survey: Survey, rows: Question, columns: Question) -> dict:
    """Companies by their answers to two questions: ``cells[row value][column value]``.

    Row and column totals count companies that answered both questions (for multiple choice a
    company is counted once per chosen option in the cells, once in the totals). Five queries
    at most, whatever the number of responses: options, number statistics (for number bands
    from quartiles), the cells (answers joined to the same response's answers), the row totals
    and the column totals, and the grand total.
    """
    if rows.kind not in COUNTED_KINDS or columns.kind not in COUNTED_KINDS or rows.pk == columns.pk:
        raise ValueError("cross_tab needs two different questions with values to count")
    options = defaultdict(list)
    code_of_option = {}
    for option in QuestionOption.objects.filter(question__in=[rows, columns]).order_by("order"):
        options[option.question_id].append(option)
        code_of_option[option.pk] = option.code
    numbers = [q for q in (rows, columns) if q.kind == Question.Kind.NUMBER]
    stats = number_stats(survey, [q.pk for q in numbers]) if numbers else {}
    bands = {q.pk: number_bands(q, stats.get(q.pk, {})) for q in (rows, columns)}
    row_value = _value_expression("", rows, bands[rows.pk])
    column_value = _value_expression("response__answers__", columns, bands[columns.pk])

    def answered(question):
        return Exists(
            Answer.objects.filter(response_id=OuterRef("response_id"), question_id=question.pk)
        )

    cells = defaultdict(lambda: defaultdict(int))
    for row in (
        submitted_answers(survey)
        .filter(question=rows, response__answers__question=columns)
        .annotate(r=row_value, c=column_value)
        .values("r", "c")
        .annotate(n=Count("pk"))
    ):
        r = _value_code(row["r"], rows, code_of_option)
        c = _value_code(row["c"], columns, code_of_option)
        if r is not None and c is not None:
            cells[r][c] += row["n"]
    totals = {}
    for side, question, other, expression in (
        ("rows", rows, columns, row_value),
        ("columns", columns, rows, _value_expression("", columns, bands[columns.pk])),
    ):
        totals[side] = {}
        for row in (
            submitted_answers(survey)
            .filter(question=question)
            .filter(answered(other))
            .annotate(v=expression)
            .values("v")
            .annotate(n=Count("pk"))
        ):
            code = _value_code(row["v"], question, code_of_option)
            if code is not None:
                totals[side][code] = totals[side].get(code, 0) + row["n"]
    total = (
        submitted_responses(survey)
        .filter(Exists(Answer.objects.filter(response_id=OuterRef("pk"), question_id=rows.pk)))
        .filter(Exists(Answer.objects.filter(response_id=OuterRef("pk"), question_id=columns.pk)))
        .count()
    )
    return {
        "rows": _axis(rows, options[rows.pk], bands[rows.pk], totals["rows"]),
        "columns": _axis(columns, options[columns.pk], bands[columns.pk], totals["columns"]),
        "cells": {r: dict(c) for r, c in cells.items()},
        "row_totals": totals["rows"],
        "column_totals": totals["columns"],
        "total": total,
    }


# --- Public view: aggregates only, small groups suppressed --------------------------------

SMALL = "small"
COMPLEMENTARY = "complementary"


def suppressed_groups(sizes: dict[str, int], minimum: int = MIN_PUBLIC_GROUP) -> set[str]:
    """Groups to hide: those under the minimum, plus the next smallest ones until the hidden
    groups together reach the minimum, so a hidden group cannot be worked out from the total."""
    hidden = {group for group, n in sizes.items() if n < minimum}
    _complete(hidden, sizes, minimum)
    return hidden


def _complete(hidden: set[str], sizes: dict[str, int], minimum: int) -> bool:
    """Hide the next smallest groups until, if any group is hidden, at least two are and they
    reach the minimum together. Returns whether it hid any."""
    if not hidden:
        return False
    added = False
    shown = sorted((n, group) for group, n in sizes.items() if group not in hidden)
    while shown and (len(hidden) < 2 or sum(sizes[g] for g in hidden) < minimum):
        hidden.add(shown.pop(0)[1])
        added = True
    return added


def hidden_groups(data: dict, minimum: int = MIN_PUBLIC_GROUP) -> dict[str, dict[str, str]]:
    """Per dimension, the groups a public page must not show, each with why: ``small`` (under
    the minimum) or ``complementary`` (hidden so that totals do not give a small one away).

    Complementary suppression: in every dimension, hidden groups are none or at least two
    reaching the minimum together (so the overall total minus the shown groups reveals no
    single group); and inside every shown coarser group (a region, an industry section) the
    same holds for its hidden finer groups (provinces, divisions), else more of them, or the
    coarser group itself, are hidden. Repeated until nothing changes."""
    sizes = data["groups"]
    reasons = {d: {g: SMALL for g, n in s.items() if n < minimum} for d, s in sizes.items()}
    hierarchy = data.get("parents") or {}
    changed = True
    while changed:
        changed = False
        for dimension, groups in sizes.items():
            hidden = set(reasons[dimension])
            if _complete(hidden, groups, minimum):
                for group in hidden - set(reasons[dimension]):
                    reasons[dimension][group] = COMPLEMENTARY
                changed = True
        for child, parent in PARENTS.items():
            children = defaultdict(list)
            for group, of in (hierarchy.get(child) or {}).items():
                if group in sizes.get(child, {}):
                    children[of].append(group)
            for of, members in sorted(children.items()):
                if of in reasons.get(parent, {}):
                    continue
                hidden = {g for g in members if g in reasons[child]}
                if not hidden or (
                    len(hidden) >= 2 and sum(sizes[child][g] for g in hidden) >= minimum
                ):
                    continue
                inside = {g: sizes[child][g] for g in members}
                if _complete(hidden, inside, minimum) and (
                    len(hidden) >= 2 and sum(inside[g] for g in hidden) >= minimum
                ):
                    for group in hidden - set(reasons[child]):
                        reasons[child][group] = COMPLEMENTARY
                else:
                    reasons[parent][of] = COMPLEMENTARY
                changed = True
    return reasons


def public_summary(data: dict, minimum: int = MIN_PUBLIC_GROUP) -> dict:
    """A copy of the summary fit for the public: hidden groups (``hidden_groups``) carry no
    figure, are left out of every ranked table and are listed apart (``hidden``)."""
    public = {
        **data,
        "groups": {},
        "questions": [],
        "suppressed": {},
        "hidden": {},
        "too_few": data["totals"]["responses"] < minimum,
    }
    public.pop("parents", None)
    if public["too_few"]:
        public["key"] = {}
        public["groups"] = {dimension: {} for dimension in DIMENSIONS}
        return public
    reasons = hidden_groups(data, minimum)
    public["hidden"] = {d: dict(sorted(r.items())) for d, r in reasons.items()}
    public["suppressed"] = {dimension: sorted(groups) for dimension, groups in reasons.items()}
    for dimension, sizes in data["groups"].items():
        public["groups"][dimension] = {
            group: (None if group in reasons[dimension] else n) for group, n in sizes.items()
        }
    for question in data["questions"]:
        if question["kind"] in (Question.Kind.SHORT_TEXT, Question.Kind.LONG_TEXT):
            continue
        question = dict(question)
        for field in ("by", "answered_by"):
            if field in question:
                question[field] = {
                    dimension: {
                        group: (None if group in reasons.get(dimension, {}) else cells)
                        for group, cells in groups.items()
                    }
                    for dimension, groups in question[field].items()
                }
        public["questions"].append(question)
    key = data.get("key") or {}
    if key:
        key = {**key, "tables": {}}
        for dimension, rows in data["key"]["tables"].items():
            key["tables"][dimension] = [r for r in rows if r["group"] not in reasons[dimension]]
        if key.get("hubei") and key["hubei"]["group"] in reasons["region"]:
            key["hubei"] = {"group": key["hubei"]["group"], "suppressed": True}
    public["key"] = key
    return public
