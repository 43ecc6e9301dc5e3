"""The survey summary, computed in the database.

Every figure comes from GROUP BY / conditional aggregation queries over ``Answer`` joined to
``Response``; no response is ever loaded into Python. The number of queries is fixed (it depends
on neither the number of responses nor the number of questions). Python only reshapes the
aggregate rows (a few per option and group) into the JSON stored in a ``SummarySnapshot``.

Quartiles: PostgreSQL computes them with ``percentile_cont`` (an ordered-set aggregate); other
databases (SQLite for ``make run``) use one window-function query that returns, per question,
only the two ordered values around each quartile, interpolated the same way.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection
from django.db.models import Aggregate, Avg, Count, FloatField, Max, Min, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from cqa_portal.core.reference import RegionGroup
from members.models import MemberCompany

from . import covid
from .models import Answer, Question, QuestionOption, Response, Survey

SUMMARY_VERSION = 1
# Quartiles as fractions k/4, so SQL can find positions with integer division on any backend.
QUARTERS = {"q1": 1, "median": 2, "q3": 3}
QUANTILES = {name: k / 4 for name, k in QUARTERS.items()}
DIMENSIONS = {
    "region": "region_group",
    "industry": "industry_section",
    "division": "industry_division",
}
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
    return round(100.0 * part / whole, 1) if whole else None


def _num(value) -> float | None:
    return None if value is None else round(float(value), 4)


def submitted_answers(survey: Survey):
    return Answer.objects.filter(
        response__survey=survey, response__status=Response.Status.SUBMITTED
    ).order_by()


def submitted_responses(survey: Survey):
    return Response.objects.filter(survey=survey, status=Response.Status.SUBMITTED).order_by()


@dataclass
class _Figures:
    """The aggregate rows of one survey, reshaped per question for ``_question_entry``."""

    answered: dict[int, int]
    option_counts: dict[int, int]
    other_texts: dict[int, int]
    crosstabs: dict[str, dict[int, dict]]
    stats: dict[int, dict]
    months: dict[int, list[tuple[str, int]]]
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


def _group_sizes(responses) -> tuple[int, int, dict[str, dict]]:
    """Responses in all, those of active members, and the size of each group.

    One GROUP BY over the three dimensions together, summed per dimension."""
    columns = list(DIMENSIONS.values())
    group_sizes = {dimension: defaultdict(int) for dimension in DIMENSIONS}
    total = responded_active = 0
    for row in responses.values(*columns).annotate(
        n=Count("pk"), active=Count("pk", filter=Q(company__status=MemberCompany.Status.ACTIVE))
    ):
        total += row["n"]
        responded_active += row["active"]
        for dimension, column in DIMENSIONS.items():
            if row[column]:
                group_sizes[dimension][row[column]] += row["n"]
    return total, responded_active, {d: dict(sizes) for d, sizes in group_sizes.items()}


def _answered_counts(answers, questions: list[Question]) -> dict[int, int]:
    """Companies that answered each question: one row per answer for every kind except
    multiple choice, where distinct responses are counted."""
    multiple_ids = [q.pk for q in questions if q.kind == Question.Kind.MULTIPLE]
    return {
        row["question_id"]: row["distinct"] if row["question_id"] in multiple_ids else row["rows"]
        for row in answers.values("question_id").annotate(
            rows=Count("pk"),
            distinct=Count("response_id", distinct=True, filter=Q(question_id__in=multiple_ids)),
        )
    }


def _option_tallies(answers, questions: list[Question]):
    """Chosen options, "other" texts per question, and the single-choice cross-tabs.

    Chosen options by region, industry and finer industry in one scan of the answers: the rows
    are counts per combination (bounded by groups × options, not by responses); the overall
    distribution and the three cross-tabs are sums of them."""
    single_ids = {q.pk for q in questions if q.kind == Question.Kind.SINGLE}
    option_counts = defaultdict(int)
    other_texts = defaultdict(int)
    crosstabs = {dimension: defaultdict(dict) for dimension in DIMENSIONS}
    group_columns = [f"response__{column}" for column in DIMENSIONS.values()]
    for row in (
        answers.filter(option__isnull=False)
        .values(*group_columns, "question_id", "option_id")
        .annotate(n=Count("pk"), texts=Count("pk", filter=~Q(text="")))
    ):
        option_counts[row["option_id"]] += row["n"]
        other_texts[row["question_id"]] += row["texts"]
        if row["question_id"] not in single_ids:
            continue
        for dimension, column in DIMENSIONS.items():
            group = row[f"response__{column}"]
            if group:
                cells = crosstabs[dimension][row["question_id"]].setdefault(group, {})
                cells[row["option_id"]] = cells.get(row["option_id"], 0) + row["n"]
    return option_counts, other_texts, crosstabs


def _date_months(answers, questions: list[Question]) -> dict[int, list[tuple[str, int]]]:
    """Answers per month ("YYYY-MM", in order) of each date question."""
    months = defaultdict(list)
    date_ids = [q.pk for q in questions if q.kind == Question.Kind.DATE]
    if date_ids:
        for row in (
            answers.filter(question_id__in=date_ids, date__isnull=False)
            .annotate(month=TruncMonth("date"))
            .values("question_id", "month")
            .annotate(n=Count("pk"))
            .order_by("question_id", "month")
        ):
            months[row["question_id"]].append((row["month"].strftime("%Y-%m"), row["n"]))
    return months


def _choice_fields(question: Question, base: int, figures: _Figures) -> dict:
    """Options with counts and shares, "other" texts, and the ranking (multiple choice) or
    the cross-tabs by group (single choice)."""
    entry: dict = {
        "options": [
            {
                "code": o.code,
                "label": o.label_zh,
                "label_en": o.label_en,
                "count": figures.option_counts.get(o.pk, 0),
                "pct": _pct(figures.option_counts.get(o.pk, 0), base),
            }
            for o in figures.option_by_question[question.pk]
        ],
        "other_texts": figures.other_texts.get(question.pk, 0),
    }
    if question.kind == Question.Kind.MULTIPLE:
        entry["ranking"] = [
            o["code"] for o in sorted(entry["options"], key=lambda o: -o["count"]) if o["count"]
        ]
    else:
        code_of_option = figures.code_of_option
        entry["by"] = {
            dimension: {
                group: {code_of_option[o]: n for o, n in cells.items()}
                for group, cells in figures.crosstabs[dimension].get(question.pk, {}).items()
            }
            for dimension in DIMENSIONS
        }
    return entry


def _question_entry(question: Question, figures: _Figures) -> dict:
    """The summary of one question."""
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
    if question.is_choice:
        entry.update(_choice_fields(question, base, figures))
    if question.kind == Question.Kind.NUMBER:
        entry["stats"] = figures.stats.get(question.pk, {"n": 0})
    if question.kind == Question.Kind.DATE:
        entry["months"] = [
            {"month": month, "count": n, "pct": _pct(n, base)}
            for month, n in figures.months.get(question.pk, [])
        ]
    return entry


def compute_summary(survey: Survey) -> dict:
    """The whole summary of a survey's submitted responses, as JSON-ready data."""
    questions = list(survey.questions.order_by("order", "pk"))
    options = list(
        QuestionOption.objects.filter(question__survey=survey).order_by("question_id", "order")
    )
    conditions = _condition_options(survey)
    answers = submitted_answers(survey)
    active_members = MemberCompany.objects.filter(status=MemberCompany.Status.ACTIVE).count()
    total, responded_active, group_sizes = _group_sizes(submitted_responses(survey))
    answered = _answered_counts(answers, questions)
    option_counts, other_texts, crosstabs = _option_tallies(answers, questions)
    number_ids = [q.pk for q in questions if q.kind == Question.Kind.NUMBER]
    stats = number_stats(survey, number_ids)
    months = _date_months(answers, questions)

    option_by_question = defaultdict(list)
    for option in options:
        option_by_question[option.question_id].append(option)
    figures = _Figures(
        answered=answered,
        option_counts=option_counts,
        other_texts=other_texts,
        crosstabs=crosstabs,
        stats=stats,
        months=months,
        conditions=conditions,
        option_by_question=option_by_question,
        code_of_option={o.pk: o.code for o in options},
        code_of_question={q.pk: q.code for q in questions},
    )
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


# --- Public view: aggregates only, small groups suppressed --------------------------------


def suppressed_groups(sizes: dict[str, int], minimum: int = MIN_PUBLIC_GROUP) -> set[str]:
    """Groups to hide: those under the minimum, plus the next smallest ones until the hidden
    groups together reach the minimum, so a hidden group cannot be worked out from the total."""
    hidden = {group for group, n in sizes.items() if n < minimum}
    if not hidden:
        return hidden
    shown = sorted((n, group) for group, n in sizes.items() if group not in hidden)
    while shown and (len(hidden) < 2 or sum(sizes[g] for g in hidden) < minimum):
        hidden.add(shown.pop(0)[1])
    return hidden


def public_summary(data: dict, minimum: int = MIN_PUBLIC_GROUP) -> dict:
    """A copy of the summary fit for the public: small groups shown as "fewer than 5"."""
    public = {
        **data,
        "groups": {},
        "questions": [],
        "suppressed": {},
        "too_few": data["totals"]["responses"] < minimum,
    }
    if public["too_few"]:
        public["questions"] = []
        public["key"] = {}
        public["groups"] = {dimension: {} for dimension in DIMENSIONS}
        return public
    hidden = {
        dimension: suppressed_groups(sizes, minimum) for dimension, sizes in data["groups"].items()
    }
    public["suppressed"] = {dimension: sorted(groups) for dimension, groups in hidden.items()}
    for dimension, sizes in data["groups"].items():
        public["groups"][dimension] = {
            group: (None if group in hidden[dimension] else n) for group, n in sizes.items()
        }
    for question in data["questions"]:
        if question["kind"] in (Question.Kind.SHORT_TEXT, Question.Kind.LONG_TEXT):
            continue
        question = dict(question)
        if "by" in question:
            question["by"] = {
                dimension: {
                    group: (None if group in hidden[dimension] else cells)
                    for group, cells in groups.items()
                }
                for dimension, groups in question["by"].items()
            }
        public["questions"].append(question)
    key = data.get("key") or {}
    if key:
        key = {**key, "tables": {}}
        for dimension, rows in data["key"]["tables"].items():
            key["tables"][dimension] = [
                {"group": r["group"], "suppressed": True} if r["group"] in hidden[dimension] else r
                for r in rows
            ]
        if key.get("hubei") and key["hubei"]["group"] in hidden["region"]:
            key["hubei"] = {"group": key["hubei"]["group"], "suppressed": True}
    public["key"] = key
    return public
