"""The tally: every submitted response counted once per combination of groups and answer
value (``TallyCell``), so the summary reads a few thousand cells instead of scanning millions
of answers.

- ``tally_add`` runs inside ``response_save``'s transaction: the old answers of a submitted
  response are taken out (sign −1) before they are replaced, the new ones put in (+1) on
  submission. One multi-row ``INSERT … ON CONFLICT DO UPDATE`` adds to the cells, in key
  order, so two submissions never wait on each other's cells in opposite orders.
- ``tally_check`` compares the cells with the responses (count and sum of ids of the submitted
  ones); ``compute_summary`` calls ``tally_rebuild`` when they differ (responses deleted with
  their company, rows written without ``response_save``: demo data, imports, benchmarks).
- ``tally_rebuild`` recounts a survey from its answers with three GROUP BY queries.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Q, Sum

from .models import Answer, Response, Survey, TallyCell

# In the order of summary.DIMENSIONS.
GROUP_FIELDS = ["region_group", "province", "industry_section", "industry_division", "size_band"]
KEY = ["survey_id", "question_pk", "value", *GROUP_FIELDS]


def number_value(number) -> str:
    return "n" + format(Decimal(number).normalize(), "f")


def answer_value(option_id, number, date) -> str | None:
    """The cell value of one answer row: its option, number or month (None for a text)."""
    if option_id is not None:
        return f"o{option_id}"
    if number is not None:
        return number_value(number)
    if date is not None:
        return "d" + date.strftime("%Y-%m")
    return None


def _cells(response: Response, answers: list[dict]) -> dict[tuple, list[int]]:
    """``{(question_pk, value): [n, texts, ids]}`` of one response and its answer rows."""
    cells = defaultdict(lambda: [0, 0, 0])
    cells[(0, "")] = [1, 0, response.pk]
    for question_id in {a["question_id"] for a in answers}:
        cells[(question_id, "")][0] += 1
    for a in answers:
        value = answer_value(a["option_id"], a["number"], a["date"])
        if value is not None:
            cell = cells[(a["question_id"], value)]
            cell[0] += 1
            cell[1] += 1 if a["option_id"] is not None and a["text"] else 0
    return cells


def answer_rows(answers) -> list[dict]:
    """Answer objects (or dicts) as the plain rows ``tally_add`` counts."""
    return [
        a
        if isinstance(a, dict)
        else {
            "question_id": a.question_id,
            "option_id": a.option_id,
            "number": a.number,
            "date": a.date,
            "text": a.text,
        }
        for a in answers
    ]


def tally_add(*, response: Response, answers: list[dict], sign: int) -> None:
    """Add (``sign`` 1) or take out (−1) one submitted response's answers, under the groups
    stored on the response."""
    groups = [getattr(response, field) or "" for field in GROUP_FIELDS]
    rows = sorted(
        (response.survey_id, question_pk, value, *groups, sign * n, sign * texts, sign * ids)
        for (question_pk, value), (n, texts, ids) in _cells(response, answers).items()
    )
    table = TallyCell._meta.db_table
    columns = ", ".join([*KEY, "n", "texts", "ids"])
    placeholders = ", ".join(["(" + ", ".join(["%s"] * (len(KEY) + 3)) + ")"] * len(rows))
    key = ", ".join(KEY)
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES {placeholders} "  # noqa: S608 - model metadata
        f"ON CONFLICT ({key}) DO UPDATE SET n = {table}.n + excluded.n, "
        f"texts = {table}.texts + excluded.texts, ids = {table}.ids + excluded.ids"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [v for row in rows for v in row])


def tally_check(survey: Survey) -> tuple[int, int]:
    """Submitted responses of the survey: their number and the sum of their ids."""
    totals = Response.objects.filter(survey=survey, status=Response.Status.SUBMITTED).aggregate(
        n=Count("pk"), ids=Sum("pk")
    )
    return totals["n"], totals["ids"] or 0


@transaction.atomic
def tally_rebuild(survey: Survey) -> None:
    """Recount the survey's cells from its submitted responses and answers."""
    responses = Response.objects.filter(survey=survey, status=Response.Status.SUBMITTED).order_by()
    answers = Answer.objects.filter(
        response__survey=survey, response__status=Response.Status.SUBMITTED
    ).order_by()
    on_response = [f"response__{field}" for field in GROUP_FIELDS]
    cells = {}

    def add(question_pk, value, row, fields, n, texts=0, ids=0):
        key = (question_pk, value, *[row[f] or "" for f in fields])
        cell = cells.setdefault(key, [0, 0, 0])
        cell[0] += n
        cell[1] += texts
        cell[2] += ids

    for row in responses.values(*GROUP_FIELDS).annotate(n=Count("pk"), ids=Sum("pk")):
        add(0, "", row, GROUP_FIELDS, row["n"], ids=row["ids"])
    for row in answers.values("question_id", *on_response).annotate(
        n=Count("response_id", distinct=True)
    ):
        add(row["question_id"], "", row, on_response, row["n"])
    for row in (
        answers.filter(Q(option__isnull=False) | Q(number__isnull=False) | Q(date__isnull=False))
        .values("question_id", "option_id", "number", "date", *on_response)
        .annotate(n=Count("pk"), texts=Count("pk", filter=~Q(text="")))
    ):
        value = answer_value(row["option_id"], row["number"], row["date"])
        texts = row["texts"] if row["option_id"] is not None else 0
        add(row["question_id"], value, row, on_response, row["n"], texts)
    TallyCell.objects.filter(survey=survey).delete()
    TallyCell.objects.bulk_create(
        [
            TallyCell(
                survey=survey,
                question_pk=key[0],
                value=key[1],
                **dict(zip(GROUP_FIELDS, key[2:], strict=True)),
                n=n,
                texts=texts,
                ids=ids,
            )
            for key, (n, texts, ids) in cells.items()
        ],
        batch_size=2000,
    )
