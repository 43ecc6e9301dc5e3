"""The tally: every submitted response counted once per combination of groups and answer
value (``TallyCell``), so the summary reads a few thousand cells instead of scanning millions
of answers.

- ``tally_apply`` runs inside ``response_save``'s transaction: the cells of a submitted
  response's old answers (``response_cells``, read before they are replaced) are taken out and
  those of its new ones put in, as net changes in one multi-row ``INSERT … ON CONFLICT DO
  UPDATE`` in key order, so two submissions never wait on each other's cells in opposite
  orders.
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

from .models import Answer, Question, Response, Survey, TallyCell

# In the order of summary.DIMENSIONS.
# Number questions with a minimum and a maximum are counted in this many equal bands; others in
# the four bands between their quartiles.
NUMBER_BANDS = 5
GROUP_FIELDS = ["region_group", "province", "industry_section", "industry_division", "size_band"]
KEY = ["survey_id", "question_pk", "value", *GROUP_FIELDS]


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


def fixed_bands(question: Question) -> list[dict]:
    """The bands of a number question known before any answer (its minimum and maximum are
    set): its answers are counted per band and group as they are filed, and per exact number
    only overall (for the quartiles). Others are counted per exact number and group."""
    return number_bands(question, {})


def _fixed_bands_of(survey_id: int) -> dict[int, list[dict]]:
    return {
        q.pk: bands
        for q in Question.objects.filter(survey_id=survey_id, kind=Question.Kind.NUMBER)
        if (bands := fixed_bands(q))
    }


def _band_of(bands: list[dict], number: Decimal) -> str | None:
    for band in bands:
        if band["low"] <= number and (
            number < band["high"] or (band["last"] and number <= band["high"])
        ):
            return band["code"]
    return None


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


def _cells(response: Response, answers: list[dict], bands) -> dict[tuple, list[int]]:
    """``{(question_pk, value, groups): [n, texts, ids]}`` of one response and its answers."""
    groups = tuple(getattr(response, field) or "" for field in GROUP_FIELDS)
    overall = ("",) * len(GROUP_FIELDS)
    cells = defaultdict(lambda: [0, 0, 0])
    cells[(0, "", groups)] = [1, 0, response.pk]
    for question_id in {a["question_id"] for a in answers}:
        cells[(question_id, "", groups)][0] += 1
    for a in answers:
        value = answer_value(a["option_id"], a["number"], a["date"])
        if value is None:
            continue
        question_bands = bands.get(a["question_id"])
        if question_bands and a["number"] is not None:
            band = _band_of(question_bands, Decimal(a["number"]))
            if band:
                cells[(a["question_id"], band, groups)][0] += 1
            cells[(a["question_id"], value, overall)][0] += 1
            continue
        cell = cells[(a["question_id"], value, groups)]
        cell[0] += 1
        cell[1] += 1 if a["option_id"] is not None and a["text"] else 0
    return cells


def answer_rows(answers) -> list[dict]:
    """Answer objects (or dicts) as the plain rows ``response_cells`` counts."""
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


def response_cells(response: Response, answers) -> dict[tuple, list[int]]:
    """What one submitted response counts for in the tally, under the groups stored on it."""
    return _cells(response, answer_rows(answers), _fixed_bands_of(response.survey_id))


def tally_apply(*, survey_id: int, remove: dict, add: dict) -> None:
    """Take out the cells of a response's previous answers and put in those of its new ones,
    as one statement of net changes in key order (so two submissions never lock the same cells
    in opposite orders)."""
    net = defaultdict(lambda: [0, 0, 0])
    for cells, sign in ((remove, -1), (add, 1)):
        for key, values in cells.items():
            for i, v in enumerate(values):
                net[key][i] += sign * v
    rows = sorted(
        (survey_id, question_pk, value, *groups, n, texts, ids)
        for (question_pk, value, groups), (n, texts, ids) in net.items()
        if n or texts or ids
    )
    if not rows:
        return
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
    bands = _fixed_bands_of(survey.pk)
    cells = {}

    def add(question_pk, value, row, fields, n, texts=0, ids=0):
        key = (question_pk, value, *[(row[f] or "") if row else "" for f in fields])
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
        question_bands = bands.get(row["question_id"])
        if question_bands and row["number"] is not None:
            band = _band_of(question_bands, Decimal(row["number"]))
            if band:
                add(row["question_id"], band, row, on_response, row["n"])
            add(row["question_id"], value, None, on_response, row["n"])
            continue
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
