"""The impact-survey summary over 100,000 responses on PostgreSQL.

Limit (issue 5): producing the summary takes a fixed number of queries (the same for 1,000 and
100,000 responses) and no more than 2x the time of hand-written SQL computing the same figures,
measured in the same run. Also reported: a plain COUNT(*) over the answers table, and a plain
Python loop over every answer computing the same counts (what survey tools that time out do).

The data (companies, responses, about a million answers) is loaded with COPY inside a transaction
that is rolled back at the end, so the database is left as it was. Prints a table, then one JSON
object as the last line. Usage: python bench/survey_summary.py [responses]
"""

import io
import json
import random
import statistics
import sys
import time
from collections import Counter

from _setup import Rollback, django_setup

RESPONSES = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
SMALL = 1_000
DRAFTS = RESPONSES // 20
REPEAT = 3
LIMIT = 2.0

AREAS = ["staff_returning", "manufacturing", "sales", "construction", "raw_materials", "costs"]
NEEDS = ["training", "policies", "publicity"]


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
                "2020-03-01 10:00:00+08",
                "2020-03-01 10:00:00+08",
                "2020-03-01 10:00:00+08" if submitted else None,
            )
        )
    copy(
        cursor,
        Response._meta.db_table,
        ["survey_id", "company_id", "status", "province", "region_group", "industry_section",
         "industry_division", "created_at", "updated_at", "submitted_at"],
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


def handwritten(cursor, survey) -> dict:
    """The same figures as compute_summary, as plain SQL."""
    from surveys.models import Answer, Response

    answer, response = Answer._meta.db_table, Response._meta.db_table
    numbers = list(survey.questions.filter(kind="number").values_list("pk", flat=True))
    dates = list(survey.questions.filter(kind="date").values_list("pk", flat=True))
    multiple = list(survey.questions.filter(kind="multiple").values_list("pk", flat=True))
    out = {}
    cursor.execute(
        'SELECT id FROM surveys_question WHERE survey_id = %s ORDER BY "order"', [survey.pk]
    )
    cursor.fetchall()
    cursor.execute(
        "SELECT o.id FROM surveys_questionoption o JOIN surveys_question q ON q.id = o.question_id"
        " WHERE q.survey_id = %s",
        [survey.pk],
    )
    cursor.fetchall()
    cursor.execute(
        "SELECT c.question_id, c.questionoption_id FROM surveys_question_condition_options c "
        "JOIN surveys_question q ON q.id = c.question_id WHERE q.survey_id = %s",
        [survey.pk],
    )
    cursor.fetchall()
    cursor.execute("SELECT count(*) FROM members_membercompany WHERE status = 'active'")
    out["members"] = cursor.fetchone()
    cursor.execute(
        "SELECT r.region_group, r.industry_section, r.industry_division, count(*), "  # noqa: S608
        f"count(*) FILTER (WHERE c.status = 'active') FROM {response} r "
        "JOIN members_membercompany c ON c.id = r.company_id "
        "WHERE r.survey_id = %s AND r.status = 'submitted' GROUP BY 1, 2, 3",
        [survey.pk],
    )
    out["groups"] = cursor.fetchall()
    join = (
        f"FROM {answer} a JOIN {response} r ON r.id = a.response_id "
        "WHERE r.survey_id = %s AND r.status = 'submitted'"
    )
    cursor.execute(
        "SELECT a.question_id, count(*), "  # noqa: S608
        f"count(DISTINCT a.response_id) FILTER (WHERE a.question_id = ANY(%s)) {join} GROUP BY 1",
        [multiple, survey.pk],
    )
    out["answered"] = {q: (d if q in multiple else n) for q, n, d in cursor.fetchall()}
    cursor.execute(
        "SELECT r.region_group, r.industry_section, r.industry_division, a.question_id, "  # noqa: S608
        f"a.option_id, count(*), count(*) FILTER (WHERE a.text <> '') {join} "
        "AND a.option_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5",
        [survey.pk],
    )
    out["options"] = Counter()
    for *_groups, _question, option_id, count, _texts in cursor.fetchall():
        out["options"][option_id] += count
    cursor.execute(
        f"SELECT a.question_id, date_trunc('month', a.date), count(*) {join} "  # noqa: S608
        "AND a.question_id = ANY(%s) AND a.date IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
        [survey.pk, dates],
    )
    out["months"] = cursor.fetchall()
    cursor.execute(
        f"SELECT a.question_id, count(a.number), avg(a.number), min(a.number), max(a.number), "
        "percentile_cont(0.25) WITHIN GROUP (ORDER BY a.number), "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY a.number), "
        "percentile_cont(0.75) WITHIN GROUP (ORDER BY a.number) "
        f"{join} AND a.question_id = ANY(%s) AND a.number IS NOT NULL GROUP BY 1",  # noqa: S608
        [survey.pk, numbers],
    )
    out["numbers"] = cursor.fetchall()
    return out


def python_loop(survey) -> dict:
    """Every answer into Python, and the same figures counted there."""
    from collections import defaultdict

    from surveys.models import Answer

    single = set(survey.questions.filter(kind="single").values_list("pk", flat=True))
    options, texts, groups = Counter(), Counter(), Counter()
    answered = defaultdict(set)
    crosstabs = {name: Counter() for name in ("region", "industry", "division")}
    numbers = defaultdict(list)
    seen = set()
    rows = (
        Answer.objects.filter(response__survey=survey, response__status="submitted")
        .values_list(
            "response_id",
            "question_id",
            "option_id",
            "number",
            "text",
            "response__region_group",
            "response__industry_section",
            "response__industry_division",
        )
        .iterator(chunk_size=10_000)
    )
    for response_id, question_id, option_id, number, text, region, section, division in rows:
        answered[question_id].add(response_id)
        if response_id not in seen:
            seen.add(response_id)
            for name, group in (("region", region), ("industry", section), ("division", division)):
                if group:
                    groups[(name, group)] += 1
        if option_id is not None:
            options[option_id] += 1
            if text:
                texts[question_id] += 1
            if question_id in single:
                for name, group in (
                    ("region", region), ("industry", section), ("division", division)
                ):  # fmt: skip
                    if group:
                        crosstabs[name][(group, question_id, option_id)] += 1
        elif number is not None:
            numbers[question_id].append(float(number))
    stats = {}
    for question_id, values in numbers.items():
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
        stats[question_id] = (len(values), statistics.fmean(values), min(values), q1, median, q3)
    return {"options": options, "answered": {q: len(r) for q, r in answered.items()}}


def timed(function, *args) -> tuple[float, object]:
    times, result = [], None
    for _ in range(REPEAT):
        start = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> dict:
    django_setup()
    from datetime import timedelta

    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from members.models import MemberCompany, MembershipLevel
    from surveys import covid
    from surveys.models import Answer, Question, QuestionOption, Survey
    from surveys.summary import compute_summary

    figures = {}
    rng = random.Random(5)
    try:
        with transaction.atomic():
            now = timezone.now()
            level = MembershipLevel.objects.get(code="ordinary").pk
            companies = RESPONSES + DRAFTS
            with connection.cursor() as cursor:
                copy(
                    cursor,
                    MemberCompany._meta.db_table,
                    ["name", "name_en", "uscc", "uscc_needs_review", "province",
                     "industry_section", "industry_division", "size_band", "level_id", "status",
                     "address", "postal_code", "contact_name", "contact_phone", "contact_email",
                     "created_at", "updated_at"],
                    (
                        (f"基准企业{i}", "", f"B{i:017d}", "f", "11", "C", "", "medium", level,
                         "active", "", "", "", "", "", now.isoformat(), now.isoformat())
                        for i in range(companies)
                    ),
                )  # fmt: skip
                cursor.execute(
                    "SELECT id FROM members_membercompany WHERE uscc LIKE 'B%%' ORDER BY id"
                )
                company_ids = [r[0] for r in cursor.fetchall()]
                big, small = (
                    covid.install(
                        Survey, Question, QuestionOption, opens_at=now,
                        closes_at=now + timedelta(days=30), slug=f"bench-{name}",
                    )
                    for name in ("big", "small")
                )  # fmt: skip
                load_start = time.perf_counter()
                answers = load(cursor, big, company_ids, RESPONSES, DRAFTS, rng)
                load(cursor, small, company_ids, SMALL, 0, rng)
                cursor.execute("ANALYZE")
                figures["load_seconds"] = round(time.perf_counter() - load_start, 1)

            with CaptureQueriesContext(connection) as small_queries:
                compute_summary(small)
            with CaptureQueriesContext(connection) as big_queries:
                summary = compute_summary(big)
            t_summary, _ = timed(compute_summary, big)
            with connection.cursor() as cursor:
                t_sql, hand = timed(handwritten, cursor, big)
                start = time.perf_counter()
                for _ in range(REPEAT):
                    cursor.execute(f"SELECT count(*) FROM {Answer._meta.db_table}")  # noqa: S608
                    cursor.fetchone()
                t_count = (time.perf_counter() - start) / REPEAT
            start = time.perf_counter()
            loop = python_loop(big)
            t_loop = time.perf_counter() - start

            # The ORM summary and the hand-written SQL agree.
            by_option = {
                (q["code"], o["code"]): o["count"]
                for q in summary["questions"]
                for o in q.get("options", [])
            }
            ids = {
                (o.question.code, o.code): o.pk
                for o in QuestionOption.objects.filter(question__survey=big).select_related(
                    "question"
                )
            }
            for key, count in by_option.items():
                assert hand["options"].get(ids[key], 0) == count, key
                assert loop["options"].get(ids[key], 0) == count, key
            for question in summary["questions"]:
                assert hand["answered"].get(question["id"], 0) == question["answered"]
            assert summary["totals"]["responses"] == RESPONSES

            ratio = t_summary / t_sql
            figures.update(
                {
                    "responses": RESPONSES,
                    "answers": answers,
                    "summary_seconds": round(t_summary, 3),
                    "handwritten_sql_seconds": round(t_sql, 3),
                    "count_star_seconds": round(t_count, 4),
                    "python_loop_seconds": round(t_loop, 2),
                    "queries_at_small": len(small_queries),
                    "queries_at_full": len(big_queries),
                    "fixed_queries": len(small_queries) == len(big_queries),
                    "ratio_to_count_star": round(t_summary / t_count, 1),
                    "python_loop_vs_summary": round(t_loop / t_summary, 1),
                    "ratio": round(ratio, 2),
                    "limit_ratio": LIMIT,
                    "ratio_to_limit": round(ratio / LIMIT, 2),
                    "within_limit": ratio <= LIMIT and len(small_queries) == len(big_queries),
                }
            )
            raise Rollback
    except Rollback:
        pass
    return figures


if __name__ == "__main__":
    result = main()
    for key in (
        "responses", "answers", "load_seconds", "summary_seconds", "handwritten_sql_seconds",
        "count_star_seconds", "python_loop_seconds", "queries_at_small", "queries_at_full",
        "ratio", "ratio_to_count_star",
    ):  # fmt: skip
        print(f"{key:<28}{result.get(key)!s:>14}")
    print(json.dumps(result))
