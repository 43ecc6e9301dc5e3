"""Findings and results pages (both languages, from the snapshot, fixed queries) and exports."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from surveys import services
from surveys.models import Survey
from tests.factories import StaffFactory
from tests.jobs import job_file
from tests.spreadsheets import body

from .factories import COMPLETE, CompanyFactory, covid_survey, file_response, member_user
from .test_summary import generate

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey():
    return covid_survey(title="测试调研", title_en="Test survey", results_published=True)


def snapshot(survey):
    return services.summary_snapshot_make(survey_id=survey.pk)


def test_findings_without_published_survey(client):
    Survey.objects.update(results_published=False)
    html = client.get("/surveys/findings/").content.decode()
    assert "尚未发布" in html


@pytest.mark.parametrize(
    ("language", "expected"),
    [("zh-hans", ["主要数据", "受到不同程度不利影响", "数据截至"]),
     ("en", ["Key figures", "were adversely affected", "Figures as of"])],
)  # fmt: skip
def test_findings_page_in_both_languages(client, survey, language, expected):
    generate(survey, 30)
    snapshot(survey)
    client.cookies["django_language"] = language
    response = client.get("/surveys/findings/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in expected:
        assert text in html
    assert "<svg" in html and 'role="img"' in html
    assert "测试企业" not in html  # never a company's name


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_results_pages_in_both_languages(client, survey, language):
    generate(survey, 30)
    snapshot(survey)
    client.cookies["django_language"] = language
    assert client.get(f"/surveys/{survey.slug}/results/").status_code == 200
    client.force_login(StaffFactory())
    response = client.get(f"/surveys/{survey.slug}/staff/results/")
    assert response.status_code == 200
    assert "export/responses.xlsx" in response.content.decode()


def test_public_results_only_when_published(client, survey):
    Survey.objects.filter(pk=survey.pk).update(results_published=False)
    assert client.get(f"/surveys/{survey.slug}/results/").status_code == 404


def test_results_page_without_snapshot(client, survey):
    html = client.get(f"/surveys/{survey.slug}/results/").content.decode()
    assert "尚未生成汇总" in html


def test_small_groups_shown_as_fewer_than_five(client, survey):
    for _ in range(6):
        file_response(survey, CompanyFactory(province="11"), COMPLETE)
    file_response(survey, CompanyFactory(province="42"), {**COMPLETE, "impact_degree": "severe"})
    snapshot(survey)
    html = client.get(f"/surveys/{survey.slug}/results/").content.decode()
    assert "少于 5" in html
    client.force_login(StaffFactory())
    staff_html = client.get(f"/surveys/{survey.slug}/staff/results/").content.decode()
    assert "湖北" in staff_html


def test_results_pages_render_in_fixed_queries(client, survey):
    generate(survey, 3, seed=4)
    snapshot(survey)
    with CaptureQueriesContext(connection) as few:
        client.get(f"/surveys/{survey.slug}/results/")
        client.get("/surveys/findings/")
    generate(survey, 25, seed=5)
    snapshot(survey)
    with CaptureQueriesContext(connection) as many:
        client.get(f"/surveys/{survey.slug}/results/")
        client.get("/surveys/findings/")
    assert len(few) == len(many)


@pytest.mark.usefixtures("uncached_pages")  # what rendering costs
def test_member_index_in_fixed_queries(client, survey):
    company = CompanyFactory()
    client.force_login(member_user(company))
    with CaptureQueriesContext(connection) as few:
        client.get("/surveys/")
    covid_survey()
    covid_survey()
    with CaptureQueriesContext(connection) as many:
        client.get("/surveys/")
    assert len(few) == len(many)


def test_staff_pages_need_staff(client, survey):
    client.force_login(member_user(CompanyFactory()))
    for url in [
        f"/surveys/{survey.slug}/staff/results/",
        f"/surveys/{survey.slug}/staff/export/responses.csv",
        f"/surveys/{survey.slug}/staff/export/summary.xlsx",
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_staff_refresh_button(client, survey, django_capture_on_commit_callbacks):
    client.force_login(StaffFactory())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/surveys/{survey.slug}/staff/refresh/")
    assert response.status_code == 302
    assert survey.snapshots.count() == 1


# --- Exports -------------------------------------------------------------------------------


@pytest.fixture
def filed(survey):
    company = CompanyFactory(name='=HYPERLINK("http://evil")', province="42")
    file_response(
        survey,
        company,
        {
            **COMPLETE,
            "impact_areas": ["sales", "other"],
            "impact_areas__other": "@SUM(1+1)",
            "comments": "-2+3",
        },
    )
    file_response(survey, CompanyFactory(name="正常企业"), {**COMPLETE, "impact_degree": "none"})
    file_response(survey, CompanyFactory(name="草稿企业"), {"impact_degree": "none"}, submit=False)
    return company


def test_responses_csv(client, survey, filed):
    client.force_login(StaffFactory())
    response = job_file(client, f"/surveys/{survey.slug}/staff/export/responses.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = body(response).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header, data = rows[0], rows[1:]
    assert header[:2] == ["单位", "统一社会信用代码"]
    assert len(data) == 2  # drafts are not exported
    by_company = {row[0]: dict(zip(header, row, strict=True)) for row in data}
    evil = by_company['\'=HYPERLINK("http://evil")']
    assert evil["省份"] == "湖北省"
    areas = [h for h in header if h.startswith("2. ")]  # impact_areas
    assert len(areas) == 8  # seven options and the "other" details
    assert evil[next(h for h in areas if h.endswith("销售"))] == "1"
    assert evil[next(h for h in areas if h.endswith("成本上升"))] == "0"
    assert "'@SUM(1+1)" in evil.values()
    assert "'-2+3" in evil.values()
    normal = by_company["正常企业"]
    assert normal[next(h for h in areas if h.endswith("销售"))] == ""  # not shown the question


def test_responses_xlsx(client, survey, filed):
    client.force_login(StaffFactory())
    response = job_file(client, f"/surveys/{survey.slug}/staff/export/responses.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(body(response))).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(values) == 3
    names = [row[0] for row in values[1:]]
    assert '\'=HYPERLINK("http://evil")' in names
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == names[0])
    for row in sheet.iter_rows():
        for c in row:
            assert c.data_type != "f", c.value  # no formulas at all
    assert cell.data_type == "s"
    number_column = values[0].index(next(h for h in values[0] if h.startswith("5. ")))
    assert values[1][number_column] == 60


def test_unknown_format_is_404(client, survey):
    client.force_login(StaffFactory())
    assert client.get(f"/surveys/{survey.slug}/staff/export/responses.pdf").status_code == 404
    assert client.post(f"/surveys/{survey.slug}/staff/export/responses.pdf").status_code == 404


def test_summary_xlsx(client, survey, filed):
    client.force_login(StaffFactory())
    response = job_file(client, f"/surveys/{survey.slug}/staff/export/summary.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(body(response)))
    assert len(workbook.sheetnames) >= 6
    totals = {row[0].value: row[1].value for row in workbook.worksheets[0].iter_rows(min_row=2)}
    assert totals["答卷数"] == 2
    distributions = list(workbook.worksheets[1].iter_rows(min_row=2, values_only=True))
    degree = {row[2]: row[4] for row in distributions if row[0] == "impact_degree"}
    assert degree == {"none": 1, "slight": 0, "moderate": 1, "severe": 0}
