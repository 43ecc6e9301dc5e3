"""Breakdowns of every counted question by every dimension, and any two questions crossed:
each figure against counts made here, independently, from what the test filed."""

from collections import Counter, defaultdict

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.models import MemberCompany
from surveys.models import Question
from surveys.summary import DIMENSIONS, compute_summary, cross_tab

from .factories import CompanyFactory, covid_survey, file_response
from .test_summary import generate, pct, question

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey():
    return covid_survey()


@pytest.fixture
def filed(survey):
    return generate(survey, 70, seed=11)


def values_of(code, answers):
    """The values one company's answers count under, as the summary names them."""
    value = answers.get(code)
    if value is None:
        return []
    if code == "staff_back_pct":  # 0..100 in five bands of 20, the last one closed
        return [f"b{min(int(value) // 20, 4) + 1}"]
    if code == "full_resumption_date":
        return [value[:7]]
    return value if isinstance(value, list) else [value]


COUNTED = [
    "impact_degree",
    "impact_areas",
    "resumption",
    "full_resumption_date",
    "staff_back_pct",
    "needs",
]


@pytest.mark.parametrize("code", COUNTED)
def test_every_question_broken_down_by_every_dimension(survey, filed, code):
    data = compute_summary(survey)
    got = question(data, code)
    for dimension in DIMENSIONS:
        expected = defaultdict(Counter)
        answered = Counter()
        for row in filed:
            group = row[dimension]
            if not group or code not in row["answers"]:
                continue
            answered[group] += 1
            for value in values_of(code, row["answers"]):
                expected[group][value] += 1
        assert got["answered_by"][dimension] == dict(answered), dimension
        assert got["by"][dimension] == {g: dict(c) for g, c in expected.items()}, dimension


def test_number_bands_and_months(survey, filed):
    data = compute_summary(survey)
    bands = question(data, "staff_back_pct")["bands"]
    assert [b["label"] for b in bands] == ["0–19", "20–39", "40–59", "60–79", "80–100"]
    counts = Counter(v for f in filed for v in values_of("staff_back_pct", f["answers"]))
    answered = sum(1 for f in filed if "staff_back_pct" in f["answers"])
    for band in bands:
        assert band["count"] == counts[band["code"]]
        assert band["pct"] == pct(counts[band["code"]], answered)
    months = Counter(v for f in filed for v in values_of("full_resumption_date", f["answers"]))
    assert {m["month"]: m["count"] for m in question(data, "full_resumption_date")["months"]} == (
        dict(months)
    )


def test_summary_queries_fixed_at_two_sizes(django_assert_num_queries):
    small, big = covid_survey(), covid_survey()
    generate(small, 6, seed=1)
    generate(big, 40, seed=2)
    with CaptureQueriesContext(connection) as queries:
        compute_summary(small)
    with django_assert_num_queries(len(queries)):
        compute_summary(big)


PAIRS = [
    ("impact_degree", "needs"),
    ("impact_areas", "needs"),
    ("staff_back_pct", "full_resumption_date"),
    ("needs", "staff_back_pct"),
    ("resumption", "impact_degree"),
]


@pytest.mark.parametrize(("rows", "columns"), PAIRS)
def test_cross_tab_of_any_two_questions(survey, filed, rows, columns):
    row_q = Question.objects.get(survey=survey, code=rows)
    column_q = Question.objects.get(survey=survey, code=columns)
    table = cross_tab(survey, row_q, column_q)
    cells = defaultdict(Counter)
    row_totals, column_totals = Counter(), Counter()
    both = 0
    for f in filed:
        r = values_of(rows, f["answers"])
        c = values_of(columns, f["answers"])
        if not r or not c:
            continue
        both += 1
        for a in r:
            row_totals[a] += 1
            for b in c:
                cells[a][b] += 1
        for b in c:
            column_totals[b] += 1
    assert table["cells"] == {a: dict(b) for a, b in cells.items()}
    assert table["row_totals"] == dict(row_totals)
    assert table["column_totals"] == dict(column_totals)
    assert table["total"] == both


def test_cross_tab_queries_fixed_at_two_sizes(django_assert_num_queries):
    small, big = covid_survey(), covid_survey()
    generate(small, 6, seed=1)
    generate(big, 40, seed=2)
    counts = []
    for survey in (small, big):
        pair = [Question.objects.get(survey=survey, code=c) for c in ("staff_back_pct", "needs")]
        with CaptureQueriesContext(connection) as queries:
            cross_tab(survey, *pair)
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 6


@pytest.fixture
def staff_client(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True))
    return client


def test_staff_pick_two_questions_on_the_results_page(staff_client, survey, filed):
    from surveys import services

    services.summary_snapshot_make(survey_id=survey.pk)
    url = f"/surveys/{survey.slug}/staff/results/"
    page = staff_client.get(url, {"rows": "impact_degree", "columns": "needs"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="crosstab"' in html
    severe_training = sum(
        1
        for f in filed
        if f["answers"]["impact_degree"] == "severe" and "training" in f["answers"]["needs"]
    )
    table = page.context["crosstab"]
    row = next(r for r in table["rows"] if r["label"] == "严重影响")
    column = table["columns"].index("质量管理工具方法学习与培训")
    assert row["pairs"][column][0] == severe_training


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"rows": "needs", "columns": "needs"}, "请选择两个不同的问题"),
        ({"rows": "comments", "columns": "needs"}, "选择一个有效的选项"),
        ({"rows": "nope", "columns": ""}, "选择一个有效的选项"),
    ],
)
def test_bad_picks_get_a_clear_message(staff_client, survey, filed, params, message):
    page = staff_client.get(f"/surveys/{survey.slug}/staff/results/", params)
    assert page.status_code == 200
    assert message in page.content.decode()
    assert "crosstab" not in page.context or page.context.get("crosstab") is None


def test_cross_tab_page_is_staff_only(client, survey):
    page = client.get(
        f"/surveys/{survey.slug}/staff/results/", {"rows": "needs", "columns": "impact_degree"}
    )
    assert page.status_code == 302
    assert "login" in page["Location"]


def test_size_is_copied_at_submission(survey):
    company = CompanyFactory(size_band="large")
    from .factories import COMPLETE

    response = file_response(survey, company, COMPLETE)
    MemberCompany.objects.filter(pk=company.pk).update(size_band="micro")
    response.refresh_from_db()
    assert response.size_band == "large"
    assert compute_summary(survey)["groups"]["size"] == {"large": 1}
