"""The impact-survey summary and cross-tabs on PostgreSQL, at 100,000 and 1,000,000 responses.

Limits (issue 13, and issue 5 before it):

- the full summary (every question broken down by region, province, industry section and
  division, and size) takes the same number of queries at 1,000 and 100,000 responses, and no
  more than 2x hand-written SQL computing the same figures from the answers (issue 5);
- a staff cross-tab of two questions, at 100,000 responses, within 1.5x of hand-written SQL
  computing the same table (two pairs: single × multiple choice, number bands × months);
- the full summary under 2 s at 1,000,000 responses (about 7.7 million answers).

The summary reads the tally (``surveys.tally``: cells kept up to date as responses are filed);
data written here with SQL is counted into it once with ``tally_rebuild``, whose time is
reported too. Data is generated inside PostgreSQL (``_survey_data``: INSERT … SELECT
generate_series) in transactions that are rolled back, so the database is left as it was. Prints
a table, then one JSON object as the last line. Usage: python bench/survey_summary.py [big]
(``big`` = responses of the second phase, 1,000,000 unless given; 0 skips it).
"""

import io
import json
import statistics
import sys
import time
from collections import Counter

import _survey_data as generated
from _setup import Rollback, django_setup

RESPONSES = 100_000
BIG = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
SMALL = 1_000
REPEAT = 3
SUMMARY_LIMIT = 2.0  # x hand-written SQL (issue 5)
CROSSTAB_LIMIT = 1.5  # x hand-written SQL
BIG_LIMIT_SECONDS = 2.0

AREAS = ["staff_returning", "manufacturing", "sales", "construction", "raw_materials", "costs"]
NEEDS = ["training", "policies", "publicity"]
PAIRS = [("impact_degree", "needs"), ("staff_back_pct", "full_resumption_date")]


def copy(cursor, table: str, columns: list[str], rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def load(cursor, survey, companies: list[int], count: int, drafts: int, rng) -> int:
    """Responses from the first ``count`` companies (then ``drafts`` drafts); returns answers."""
    from cqa_portal.core.reference import region_group_of
    from surveys.models import Answer, Response

    provinces = ["42"] * 6 + ["11", "31", "32", "33", "44", "21", "61", "51", "41", "37"]
    sections = ["C"] * 5 + ["E", "G", "H", "I", "D", "M", "J", "F"]
    rows = []
    for i, company_id in enumerate(companies[: count + drafts]):
        province = rng.choice(provinces)
        submitted = i < count
        rows.append(
            (
                survey.pk,
                company_id,
                "submitted" if submitted else "draft",
                province if submitted else "",
                region_group_of(province) if submitted else "",
                rng.choice(sections) if submitted else "",
                "",
                "medium" if submitted else "",
                "2020-03-01 10:00:00+08",
                "2020-03-01 10:00:00+08",
                "2020-03-01 10:00:00+08" if submitted else None,
            )
        )
    copy(
        cursor,
        Response._meta.db_table,
        ["survey_id", "company_id", "status", "province", "region_group", "industry_section",
         "industry_division", "size_band", "created_at", "updated_at", "submitted_at"],
        rows,
    )  # fmt: skip
    cursor.execute(f"SELECT id FROM {Response._meta.db_table} WHERE survey_id = %s", [survey.pk])  # noqa: S608
    response_ids = [r[0] for r in cursor.fetchall()]
    questions = {q.code: q for q in survey.questions.prefetch_related("options")}
    option = {(q.code, o.code): o.pk for q in questions.values() for o in q.options.all()}
    answers = []
    for response_id in response_ids:
        degree = rng.choices(["none", "slight", "moderate", "severe"], [15, 30, 30, 25])[0]
        resumption = rng.choices(["full", "partly", "not_resumed"], [35, 60, 5])[0]
        q = questions["impact_degree"].pk
        answers.append((response_id, q, option[("impact_degree", degree)], None, "", None))
        if degree != "none":
            for area in rng.sample(AREAS, rng.randint(1, 4)):
                answers.append(
                    (response_id, questions["impact_areas"].pk,
                     option[("impact_areas", area)], None, "", None)
                )  # fmt: skip
        answers.append(
            (response_id, questions["resumption"].pk, option[("resumption", resumption)],
             None, "", None)
        )  # fmt: skip
        if resumption != "full":
            answers.append(
                (response_id, questions["full_resumption_date"].pk, None, None, "",
                 f"2020-04-{rng.randint(1, 28):02d}")
            )  # fmt: skip
        answers.append(
            (response_id, questions["staff_back_pct"].pk, None, rng.randint(0, 100), "", None)
        )
        for need in rng.sample(NEEDS, rng.randint(1, 3)):
            answers.append(
                (response_id, questions["needs"].pk, option[("needs", need)], None, "", None)
            )
    copy(
        cursor,
        Answer._meta.db_table,
        ["response_id", "question_id", "option_id", "number", "text", "date"],
        answers,
    )
    return len(answers)


def handwritten_summary(cursor, survey) -> dict:
    """The summary's figures computed from the answers by hand: the survey's questions and
    options, active members, group sizes, answered counts, and every answer counted by
    question, value (option, band of 20 for the 0–100 number, month) and all five group
    columns, in one GROUP BY; number statistics with percentile_cont."""
    cursor.execute(
        'SELECT id, kind FROM surveys_question WHERE survey_id = %s ORDER BY "order"', [survey.pk]
    )
    kinds = dict(cursor.fetchall())
    multiple = [q for q, k in kinds.items() if k == "multiple"]
    numbers = [q for q, k in kinds.items() if k == "number"]
    cursor.execute(
        "SELECT o.id FROM surveys_questionoption o JOIN surveys_question q ON q.id = o.question_id"
        " WHERE q.survey_id = %s",
        [survey.pk],
    )
    cursor.fetchall()
    cursor.execute("SELECT count(*) FROM members_membercompany WHERE status = 'active'")
    out = {"members": cursor.fetchone()[0]}
    groups = "r.region_group, r.province, r.industry_section, r.industry_division, r.size_band"
    join = (
        "FROM surveys_answer a JOIN surveys_response r ON r.id = a.response_id "
        "WHERE r.survey_id = %s AND r.status = 'submitted'"
    )
    cursor.execute(
        f"SELECT {groups}, count(*), count(*) FILTER (WHERE c.status = 'active') "  # noqa: S608
        "FROM surveys_response r JOIN members_membercompany c ON c.id = r.company_id "
        "WHERE r.survey_id = %s AND r.status = 'submitted' GROUP BY 1, 2, 3, 4, 5",
        [survey.pk],
    )
    out["groups"] = cursor.fetchall()
    cursor.execute(
        f"SELECT a.question_id, {groups}, count(DISTINCT a.response_id) {join} "  # noqa: S608
        "AND a.question_id = ANY(%s) GROUP BY 1, 2, 3, 4, 5, 6",
        [survey.pk, multiple],
    )
    cursor.fetchall()
    cursor.execute(
        f"SELECT a.question_id, a.option_id, least(floor(a.number / 20), 4), "  # noqa: S608
        f"date_trunc('month', a.date), {groups}, count(*), count(*) FILTER (WHERE a.text <> '') "
        f"{join} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9",
        [survey.pk],
    )
    out["options"] = Counter()
    for _question, option_id, *_rest, n, _texts in cursor.fetchall():
        if option_id is not None:
            out["options"][option_id] += n
    cursor.execute(
        "SELECT a.question_id, count(a.number), avg(a.number), min(a.number), max(a.number), "
        "percentile_cont(0.25) WITHIN GROUP (ORDER BY a.number), "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY a.number), "
        "percentile_cont(0.75) WITHIN GROUP (ORDER BY a.number) "
        f"{join} AND a.question_id = ANY(%s) AND a.number IS NOT NULL GROUP BY 1",  # noqa: S608
        [survey.pk, numbers],
    )
    out["numbers"] = cursor.fetchall()
    return out


def _value_sql(alias: str, kind: str) -> str:
    if kind in ("single", "multiple"):
        return f"{alias}.option_id::text"
    if kind == "number":  # the five bands of 20 of a 0–100 question, the last one closed
        return f"least(floor({alias}.number / 20), 4)::text"
    return f"to_char({alias}.date, 'YYYY-MM')"


def handwritten_cross_tab(cursor, survey, rows, columns) -> dict:
    """The same table as ``summary.cross_tab`` by hand: options, cells, row and column totals
    (companies that answered both) and the grand total."""
    cursor.execute(
        "SELECT id, question_id, code FROM surveys_questionoption WHERE question_id IN (%s, %s)",
        [rows.pk, columns.pk],
    )
    cursor.fetchall()
    r, c = _value_sql("a", rows.kind), _value_sql("b", columns.kind)
    base = (
        "FROM surveys_answer a JOIN surveys_response s ON s.id = a.response_id "
        "WHERE s.survey_id = %s AND s.status = 'submitted' AND a.question_id = %s"
    )
    cursor.execute(
        f"SELECT {r}, {c}, count(*) {base.replace('WHERE', 'JOIN surveys_answer b ON b.response_id = a.response_id WHERE')} "  # noqa: E501, S608
        "AND b.question_id = %s GROUP BY 1, 2",
        [survey.pk, rows.pk, columns.pk],
    )
    cells = {(x, y): n for x, y, n in cursor.fetchall()}
    totals = []
    for question, other in ((rows, columns), (columns, rows)):
        cursor.execute(
            f"SELECT {_value_sql('a', question.kind)}, count(*) {base} AND EXISTS ("  # noqa: S608
            "SELECT 1 FROM surveys_answer b WHERE b.response_id = a.response_id "
            "AND b.question_id = %s) GROUP BY 1",
            [survey.pk, question.pk, other.pk],
        )
        totals.append(dict(cursor.fetchall()))
    cursor.execute(
        "SELECT count(*) FROM surveys_response s WHERE s.survey_id = %s AND s.status = 'submitted' "
        "AND EXISTS (SELECT 1 FROM surveys_answer a WHERE a.response_id = s.id AND a.question_id = %s) "  # noqa: E501
        "AND EXISTS (SELECT 1 FROM surveys_answer a WHERE a.response_id = s.id AND a.question_id = %s)",  # noqa: E501
        [survey.pk, rows.pk, columns.pk],
    )
    return {"cells": cells, "rows": totals[0], "columns": totals[1], "total": cursor.fetchone()[0]}


def timed(function, *args) -> tuple[float, object]:
    times, result = [], None
    for _ in range(REPEAT):
        start = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _install(name):
    from datetime import timedelta

    from django.utils import timezone

    from surveys import covid
    from surveys.models import Question, QuestionOption, Survey

    now = timezone.now()
    return covid.install(
        Survey, Question, QuestionOption, opens_at=now, closes_at=now + timedelta(days=30),
        slug=f"bench-{name}",
    )  # fmt: skip


def _generate(cursor, name: str, count: int, prefix: str) -> tuple[object, int]:
    from members.models import MembershipLevel

    level = MembershipLevel.objects.get(code="ordinary").pk
    drafts = count // 20
    ids = generated.companies(cursor, count=count + drafts, level_id=level, prefix=prefix)
    survey = _install(name)
    answers = generated.responses(cursor, survey, company_ids=ids, count=count, drafts=drafts)
    return survey, answers


def phase_100k() -> dict:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from surveys.models import QuestionOption
    from surveys.summary import compute_summary, cross_tab
    from surveys.tally import tally_rebuild

    figures = {}
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            start = time.perf_counter()
            big, answers = _generate(cursor, "big", RESPONSES, "B")
            small, _ = _generate(cursor, "small", SMALL, "S")
            cursor.execute("ANALYZE")
            figures["load_seconds"] = round(time.perf_counter() - start, 1)
            start = time.perf_counter()
            tally_rebuild(big)
            figures["tally_rebuild_seconds"] = round(time.perf_counter() - start, 2)
            tally_rebuild(small)
            cursor.execute("ANALYZE surveys_tallycell")

            with CaptureQueriesContext(connection) as small_queries:
                compute_summary(small)
            with CaptureQueriesContext(connection) as big_queries:
                summary = compute_summary(big)
            t_summary, _ = timed(compute_summary, big)
            t_sql, hand = timed(handwritten_summary, cursor, big)
            ids = {
                (o.question.code, o.code): o.pk
                for o in QuestionOption.objects.filter(question__survey=big).select_related(
                    "question"
                )
            }
            for q in summary["questions"]:
                for o in q.get("options", []):
                    assert hand["options"].get(ids[(q["code"], o["code"])], 0) == o["count"]
            assert summary["totals"]["responses"] == RESPONSES
            figures.update(
                {
                    "responses": RESPONSES,
                    "answers": answers,
                    "summary_seconds": round(t_summary, 3),
                    "handwritten_summary_seconds": round(t_sql, 3),
                    "summary_ratio": round(t_summary / t_sql, 3),
                    "summary_ratio_to_limit": round(t_summary / t_sql / SUMMARY_LIMIT, 3),
                    "queries_at_small": len(small_queries),
                    "queries_at_full": len(big_queries),
                }
            )
            for rows_code, columns_code in PAIRS:
                name = f"{rows_code}_x_{columns_code}"
                pair = {q.code: q for q in big.questions.filter(code__in=[rows_code, columns_code])}
                rows, columns = pair[rows_code], pair[columns_code]
                small_pair = {
                    q.code: q for q in small.questions.filter(code__in=[rows_code, columns_code])
                }
                with CaptureQueriesContext(connection) as q_small:
                    cross_tab(small, small_pair[rows_code], small_pair[columns_code])
                with CaptureQueriesContext(connection) as q_big:
                    table = cross_tab(big, rows, columns)
                t_cross, _ = timed(cross_tab, big, rows, columns)
                t_hand, hand_table = timed(handwritten_cross_tab, cursor, big, rows, columns)
                assert table["total"] == hand_table["total"]
                assert sum(sum(c.values()) for c in table["cells"].values()) == sum(
                    hand_table["cells"].values()
                )
                assert sum(table["row_totals"].values()) == sum(hand_table["rows"].values())
                figures[name] = {
                    "seconds": round(t_cross, 3),
                    "handwritten_seconds": round(t_hand, 3),
                    "ratio": round(t_cross / t_hand, 3),
                    "ratio_to_limit": round(t_cross / t_hand / CROSSTAB_LIMIT, 3),
                    "queries_at_small": len(q_small),
                    "queries_at_full": len(q_big),
                }
            raise Rollback
    except Rollback:
        pass
    return figures


def phase_big() -> dict:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from surveys.models import TallyCell
    from surveys.summary import compute_summary
    from surveys.tally import tally_rebuild

    figures = {}
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            start = time.perf_counter()
            survey, answers = _generate(cursor, "million", BIG, "M")
            cursor.execute("ANALYZE")
            figures["big_load_seconds"] = round(time.perf_counter() - start, 1)
            start = time.perf_counter()
            tally_rebuild(survey)
            figures["big_tally_rebuild_seconds"] = round(time.perf_counter() - start, 1)
            cursor.execute("ANALYZE surveys_tallycell")
            figures["big_tally_cells"] = TallyCell.objects.filter(survey=survey).count()
            with CaptureQueriesContext(connection) as queries:
                summary = compute_summary(survey)
            t_summary, _ = timed(compute_summary, survey)
            # Checked against the answers: responses and every option's count.
            cursor.execute(
                "SELECT o.code, q.code, count(*) FROM surveys_answer a "
                "JOIN surveys_response r ON r.id = a.response_id "
                "JOIN surveys_questionoption o ON o.id = a.option_id "
                "JOIN surveys_question q ON q.id = a.question_id "
                "WHERE r.survey_id = %s AND r.status = 'submitted' GROUP BY 1, 2",
                [survey.pk],
            )
            counted = {(q, o): n for o, q, n in cursor.fetchall()}
            for q in summary["questions"]:
                for o in q.get("options", []):
                    assert counted.get((q["code"], o["code"]), 0) == o["count"], (q, o)
            assert summary["totals"]["responses"] == BIG
            breakdowns = sum(
                len(groups) for q in summary["questions"] for groups in q.get("by", {}).values()
            )
            figures.update(
                {
                    "big_responses": BIG,
                    "big_answers": answers,
                    "big_summary_seconds": round(t_summary, 3),
                    "big_summary_queries": len(queries),
                    "big_summary_query_seconds": [
                        float(q["time"]) for q in queries.captured_queries
                    ],
                    "big_breakdown_rows": breakdowns,
                    "big_limit_seconds": BIG_LIMIT_SECONDS,
                    "big_ratio_to_limit": round(t_summary / BIG_LIMIT_SECONDS, 3),
                }
            )
            raise Rollback
    except Rollback:
        pass
    return figures


def main() -> dict:
    django_setup()
    figures = phase_100k()
    if BIG:
        figures.update(phase_big())
    crosstabs_ok = all(
        figures[f"{r}_x_{c}"]["ratio"] <= CROSSTAB_LIMIT
        and figures[f"{r}_x_{c}"]["queries_at_small"] == figures[f"{r}_x_{c}"]["queries_at_full"]
        for r, c in PAIRS
    )
    figures["within_limit"] = (
        figures["summary_ratio"] <= SUMMARY_LIMIT
        and figures["queries_at_small"] == figures["queries_at_full"]
        and crosstabs_ok
        and (not BIG or figures["big_summary_seconds"] <= BIG_LIMIT_SECONDS)
    )
    # For make bench's table: the worst of the ratios to their limits.
    figures["ratio_to_limit"] = max(
        [figures["summary_ratio_to_limit"], figures.get("big_ratio_to_limit", 0)]
        + [figures[f"{r}_x_{c}"]["ratio_to_limit"] for r, c in PAIRS]
    )
    return figures


if __name__ == "__main__":
    result = main()
    for key, value in result.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                print(f"{key + '.' + sub:<52}{v!s:>14}")
        else:
            print(f"{key:<52}{value!s:>14}")
    print(json.dumps(result))
