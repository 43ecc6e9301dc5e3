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

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone

from cqa_portal.core.numbers import percent
from cqa_portal.core.reference import RegionGroup
from members.models import MemberCompany

from . import covid, tally
from .models import Answer, Question, QuestionOption, Response, Survey, TallyCell

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
assert list(DIMENSIONS.values()) == tally.GROUP_FIELDS  # noqa: S101 - the cells' column order
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
# Groups smaller than this are not shown on public pages.
MIN_PUBLIC_GROUP = 5


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


number_bands = tally.number_bands


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


# --- Reading the tally --------------------------------------------------------------------


def _per_group():
    """``[dimension][group]`` → a count."""
    return {dimension: defaultdict(int) for dimension in DIMENSIONS}


def _nested():
    """``[dimension][group][value]`` → a count."""
    return {dimension: defaultdict(lambda: defaultdict(int)) for dimension in DIMENSIONS}


@dataclass
class _Figures:
    """The tally cells of one survey, summed per question, value and group."""

    total: int = 0
    sizes: dict = field(default_factory=_per_group)
    parents: dict = field(default_factory=lambda: {child: defaultdict(set) for child in PARENTS})
    answered: dict = field(default_factory=lambda: defaultdict(int))
    answered_by: dict = field(default_factory=lambda: defaultdict(_per_group))
    counts: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    by: dict = field(default_factory=lambda: defaultdict(_nested))
    other_texts: dict = field(default_factory=lambda: defaultdict(int))
    # Number questions: how many answers had each number, overall and per group.
    numbers: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    numbers_by: dict = field(default_factory=lambda: defaultdict(_nested))
    stats: dict = field(default_factory=dict)
    bands: dict = field(default_factory=dict)


def _condition_options(survey: Survey) -> dict[int, list[int]]:
    """The options of its condition question that show each conditional question."""
    conditions = defaultdict(list)
    for question_id, option_id in Question.condition_options.through.objects.filter(
        question__survey=survey
    ).values_list("question_id", "questionoption_id"):
        conditions[question_id].append(option_id)
    return conditions


def _sums(survey: Survey) -> list[tuple]:
    """The cells summed in the database, once overall and once per dimension (UNION ALL of
    GROUP BYs, on PostgreSQL and SQLite alike), plus which coarser group each finer one lies
    in: rows ``(dimension, group, question_pk, value, n, texts, ids)``, a few per group and
    value instead of one per combination of groups."""
    table = TallyCell._meta.db_table
    parts, params = [], []
    for dimension, column in [("", "''"), *DIMENSIONS.items()]:
        where = "" if dimension == "" else f" AND {column} <> ''"
        group_by = "question_pk, value" if dimension == "" else f"{column}, question_pk, value"
        parts.append(
            f"SELECT '{dimension}', {column}, question_pk, value, SUM(n), SUM(texts), SUM(ids) "  # noqa: S608
            f"FROM {table} WHERE survey_id = %s{where} GROUP BY {group_by}"
        )
        params.append(survey.pk)
    for child, parent in PARENTS.items():
        child_column, parent_column = DIMENSIONS[child], DIMENSIONS[parent]
        parts.append(
            f"SELECT '>{child}', {child_column}, 0, {parent_column}, SUM(n), 0, 0 "  # noqa: S608
            f"FROM {table} WHERE survey_id = %s AND question_pk = 0 AND {child_column} <> '' "
            f"AND {parent_column} <> '' GROUP BY {child_column}, {parent_column}"
        )
        params.append(survey.pk)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return cursor.fetchall()


def _cell_sums(survey: Survey) -> list[tuple]:
    """``_sums``, rebuilding the tally first if it does not match the survey's responses."""
    expected = tally.tally_check(survey)
    rows = _sums(survey)
    counted = next(((r[4], r[6]) for r in rows if r[0] == "" and r[2] == 0), (0, 0))
    if tuple(int(v or 0) for v in counted) != expected:
        tally.tally_rebuild(survey)
        rows = _sums(survey)
    return rows


def _read(rows, code_of_option: dict[int, str]) -> _Figures:
    """The summed cells per question, value, and group of each dimension ("" for all)."""
    figures = _Figures()
    for dimension, group, question_pk, value, n, texts, _ids in rows:
        n, texts = int(n or 0), int(texts or 0)
        if not n and not texts:
            continue
        if dimension.startswith(">"):
            figures.parents[dimension[1:]][group].add(value)
            continue
        if question_pk == 0:
            if dimension:
                figures.sizes[dimension][group] += n
            else:
                figures.total += n
            continue
        if value == "":
            if dimension:
                figures.answered_by[question_pk][dimension][group] += n
            else:
                figures.answered[question_pk] += n
            continue
        if value[0] == "n":
            number = Decimal(value[1:])
            if dimension:
                figures.numbers_by[question_pk][dimension][group][number] += n
            else:
                figures.numbers[question_pk][number] += n
            continue
        if value[0] == "o":
            code = code_of_option.get(int(value[1:]))
            if code is None:
                continue
            if not dimension:
                figures.other_texts[question_pk] += texts
        elif value[0] == "b":  # a band of a number question with fixed bands
            code = value
        else:
            code = value[1:]  # "dYYYY-MM"
        if dimension:
            figures.by[question_pk][dimension][group][code] += n
        else:
            figures.counts[question_pk][code] += n
    return figures


def histogram_stats(histogram: dict[Decimal, int]) -> dict:
    """Count, mean, minimum, quartiles and maximum from how many answers had each number:
    exact, with the linear interpolation of ``percentile_cont``."""
    count = sum(histogram.values())
    if not count:
        return {"n": 0}
    values = sorted(v for v, n in histogram.items() if n)
    cumulative, ends = 0, []
    for v in values:
        cumulative += histogram[v]
        ends.append(cumulative)  # positions < end hold v

    def at(position: int) -> Decimal:
        return values[bisect_right(ends, position)]

    stats = {
        "n": count,
        "mean": _num(sum(v * histogram[v] for v in values) / count),
        "min": _num(values[0]),
        "max": _num(values[-1]),
    }
    for name, k in QUARTERS.items():
        position = Decimal(k) * (count - 1) / 4
        lower = int(position)
        low, high = at(lower), at(min(lower + 1, count - 1))
        stats[name] = _num(low + (position - lower) * (high - low))
    return stats


def _count_bands(figures: _Figures, question_id: int) -> None:
    """Number answers per band, overall and per group, from the numbers' counts."""
    bands = figures.bands.get(question_id) or []
    for number, n in figures.numbers[question_id].items():
        code = tally._band_of(bands, number)
        if code:
            figures.counts[question_id][code] += n
    for dimension, groups in figures.numbers_by[question_id].items():
        for group, numbers in groups.items():
            for number, n in numbers.items():
                code = tally._band_of(bands, number)
                if code:
                    figures.by[question_id][dimension][group][code] += n


def _plain(nested) -> dict:
    if isinstance(nested, dict):
        return {key: _plain(value) for key, value in nested.items()}
    return nested


def _choice_fields(question: Question, base: int, figures: _Figures, options) -> dict:
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
            for o in options
        ],
        "other_texts": figures.other_texts.get(question.pk, 0),
    }
    if question.kind == Question.Kind.MULTIPLE:
        entry["ranking"] = [
            o["code"] for o in sorted(entry["options"], key=lambda o: -o["count"]) if o["count"]
        ]
    return entry


def _question_entry(question: Question, figures: _Figures, context: dict) -> dict:
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
            "question": context["code_of_question"].get(question.condition_question_id),
            "options": [context["code_of_option"][o] for o in context["conditions"][question.pk]],
        }
    counts = figures.counts.get(question.pk, {})
    if question.is_choice:
        entry.update(
            _choice_fields(question, base, figures, context["options"].get(question.pk, []))
        )
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
    """The whole summary of a survey's submitted responses, as JSON-ready data.

    Seven queries whatever the number of responses: questions, options, conditions, active
    members, companies not active now that responded, the tally check and the summed tally
    cells (plus a rebuild when the cells do not match the responses)."""
    questions = list(survey.questions.order_by("order", "pk"))
    options = list(
        QuestionOption.objects.filter(question__survey=survey).order_by("question_id", "order")
    )
    conditions = _condition_options(survey)
    active_members = MemberCompany.objects.filter(status=MemberCompany.Status.ACTIVE).count()
    # Few companies are not active: counting their responses is an index lookup each.
    not_active = (
        MemberCompany.objects.filter(
            status__in=[s for s in MemberCompany.Status if s != MemberCompany.Status.ACTIVE]
        )
        .filter(Exists(submitted_responses(survey).filter(company_id=OuterRef("pk"))))
        .count()
    )
    code_of_option = {o.pk: o.code for o in options}
    figures = _read(_cell_sums(survey), code_of_option)
    for question in questions:
        if question.kind == Question.Kind.NUMBER:
            figures.stats[question.pk] = histogram_stats(figures.numbers[question.pk])
            figures.bands[question.pk] = number_bands(question, figures.stats[question.pk])
            if not tally.fixed_bands(question):  # else counted per band as filed
                _count_bands(figures, question.pk)
    option_by_question = defaultdict(list)
    for option in options:
        option_by_question[option.question_id].append(option)
    context = {
        "options": option_by_question,
        "conditions": conditions,
        "code_of_option": code_of_option,
        "code_of_question": {q.pk: q.code for q in questions},
    }
    responded_active = figures.total - not_active
    hierarchy = {
        child: {group: next(iter(of)) for group, of in sorted(groups.items()) if len(of) == 1}
        for child, groups in figures.parents.items()
    }
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
            "responses": figures.total,
            "active_members": active_members,
            "responded_active": responded_active,
            "response_rate": _pct(responded_active, active_members),
        },
        "groups": {d: dict(sizes) for d, sizes in figures.sizes.items()},
        "parents": hierarchy,
        "questions": [_question_entry(q, figures, context) for q in questions],
    }
    data["key"] = key_figures(data)
    return data


def number_stats(survey: Survey, question_ids: list[int]) -> dict[int, dict]:
    """Count, mean, minimum, quartiles and maximum of number questions, from the tally."""
    histograms = defaultdict(lambda: defaultdict(int))
    for question_pk, value, n in (
        TallyCell.objects.filter(survey=survey, question_pk__in=question_ids, value__startswith="n")
        .values("question_pk", "value")
        .annotate(total=Sum("n"))
        .values_list("question_pk", "value", "total")
    ):
        histograms[question_pk][Decimal(value[1:])] += n
    return {question_id: histogram_stats(histograms[question_id]) for question_id in question_ids}


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
        for name in ("by", "answered_by"):
            if name in question:
                question[name] = {
                    dimension: {
                        group: (None if group in reasons.get(dimension, {}) else cells)
                        for group, cells in groups.items()
                    }
                    for dimension, groups in question[name].items()
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
