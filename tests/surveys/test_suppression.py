"""Suppression that leaks nothing: small groups never sit in a ranked table (their rank would
bound their share), and totals never give a single hidden group away."""

import io
from collections import Counter

import pytest
from openpyxl import load_workbook

from surveys import services
from surveys.summary import (
    MIN_PUBLIC_GROUP,
    PARENTS,
    compute_summary,
    hidden_groups,
    public_summary,
)

from .factories import COMPLETE, CompanyFactory, covid_survey, file_response

pytestmark = pytest.mark.django_db


def file_group(survey, n, serious, **company):
    """``n`` companies of one kind, ``serious`` of them moderately or severely affected."""
    for i in range(n):
        degree = "severe" if i < serious else "none"
        answers = {**COMPLETE, "impact_degree": degree}
        if degree == "none":
            answers.pop("impact_areas")
        file_response(survey, CompanyFactory(**company), answers)


@pytest.fixture
def survey():
    """The three leaks of the issue, as data:

    - mining (B, 4 responses, all serious) would sit above a section at 83.3% (5 of 6);
    - the one company of section T (not affected) would sit last, below one at 14.8% (4/27);
    - 煤炭开采 (4, all serious) would sit above a division at 92.0% (23 of 25).
    """
    survey = covid_survey(results_published=True)
    file_group(survey, 4, 4, province="14", industry_section="B", industry_division="煤炭开采")
    file_group(survey, 6, 5, province="11", industry_section="E", industry_division="房屋建筑业")
    file_group(survey, 27, 4, province="31", industry_section="G", industry_division="道路运输业")
    file_group(survey, 25, 23, province="32", industry_section="C", industry_division="汽车制造业")
    file_group(survey, 1, 0, province="33", industry_section="T", industry_division="")
    return survey


def serious_share(table, group):
    return next(r["serious_pct"] for r in table if r["group"] == group)


def test_the_leak_cases_are_what_the_issue_says(survey):
    key = compute_summary(survey)["key"]["tables"]
    assert serious_share(key["industry"], "E") == 83.3
    assert serious_share(key["industry"], "G") == 14.8
    assert serious_share(key["division"], "汽车制造业") == 92.0
    # Unsuppressed (staff) ranking: the small groups at the top and the bottom.
    assert key["industry"][0]["group"] == "B" and key["industry"][-1]["group"] == "T"


def test_small_groups_are_not_in_any_ranked_table(survey):
    public = public_summary(compute_summary(survey))
    tables = public["key"]["tables"]
    for dimension, group in [("industry", "B"), ("industry", "T"), ("division", "煤炭开采")]:
        assert group not in {r["group"] for r in tables[dimension]}
        assert public["hidden"][dimension][group] == "small"
    # What is ranked is only shown groups, so no neighbour bounds a hidden share.
    for dimension, rows in tables.items():
        assert all(public["groups"][dimension][r["group"]] for r in rows)


def test_no_hidden_value_can_be_derived_from_totals(survey):
    data = compute_summary(survey)
    public = public_summary(data)
    degree = next(q for q in data["questions"] if q["code"] == "impact_degree")
    overall = {o["code"]: o["count"] for o in degree["options"]}
    for dimension, reasons in public["hidden"].items():
        if not reasons:
            continue
        # At least two groups hidden, together at least the threshold: the total minus the
        # shown groups is a sum over several groups, never one group's figure.
        assert len(reasons) >= 2
        assert sum(data["groups"][dimension][g] for g in reasons) >= MIN_PUBLIC_GROUP
        shown = Counter()
        public_degree = next(q for q in public["questions"] if q["code"] == "impact_degree")
        for cells in public_degree["by"][dimension].values():
            if cells is not None:
                shown.update(cells)
        remainder = {code: overall[code] - shown[code] for code in overall}
        answered = {g: sum(degree["by"][dimension].get(g, {}).values()) for g in reasons}
        # What the totals give away is the sum over every hidden group (and the companies
        # with no group), always more than any single hidden group's row.
        assert all(
            remainder[c] >= sum(degree["by"][dimension][g].get(c, 0) for g in reasons)
            for c in overall
        )
        assert sum(remainder.values()) > max(answered.values())
    # Inside a shown region or section, hidden provinces or divisions are none or several.
    for child, parent in PARENTS.items():
        inside = Counter(
            data["parents"][child][g]
            for g in public["hidden"][child]
            if g in data["parents"][child]
        )
        for of, n in inside.items():
            assert of in public["hidden"][parent] or n >= 2


def test_complementary_suppression_follows_the_hierarchy():
    data = {
        "groups": {
            "region": {"north_west": 30, "east": 40},
            "province": {"61": 20, "62": 2, "63": 8, "31": 40},
            "industry": {},
            "division": {},
            "size": {},
        },
        "parents": {
            "province": {"61": "north_west", "62": "north_west", "63": "north_west", "31": "east"}
        },
    }
    reasons = hidden_groups(data)
    # 62 is small; alone it would be north-west minus 61 and 63: 63 is hidden with it.
    assert reasons["province"] == {"62": "small", "63": "complementary"}
    assert reasons["region"] == {}
    # With no sibling to hide, the region goes instead.
    data["groups"]["province"] = {"61": 28, "62": 2, "31": 40}
    data["parents"]["province"] = {"61": "north_west", "62": "north_west", "31": "east"}
    reasons = hidden_groups(data)
    assert "62" in reasons["province"] and "61" in reasons["province"]


def test_results_page_lists_small_groups_apart(client, survey):
    services.summary_snapshot_make(survey_id=survey.pk)
    html = client.get(f"/surveys/{survey.slug}/results/").content.decode()
    start = html.index('id="impact-industry"')
    section = html[start : html.index("</section>", start)]
    table = section[section.index("<table") : section.index("</table>")]
    assert "采矿业" not in table and "国际组织" not in table
    apart = section[section.index("</table>") :]
    assert "B 采矿业: 不足 5 家，不单列" in apart
    assert "T 国际组织: 不足 5 家，不单列" in apart


def test_results_page_in_english_says_fewer_than_five(client, survey):
    services.summary_snapshot_make(survey_id=survey.pk)
    client.cookies["django_language"] = "en"
    html = client.get(f"/surveys/{survey.slug}/results/").content.decode()
    assert "Fewer than 5 companies, not shown separately" in html


def test_public_export_is_suppressed_like_the_page(client, survey):
    services.summary_snapshot_make(survey_id=survey.pk)
    response = client.get(f"/surveys/{survey.slug}/results.xlsx")
    assert response.status_code == 200
    book = load_workbook(
        io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content)
    )
    text = {
        str(cell)
        for sheet in book.worksheets
        if sheet.title != book.worksheets[-1].title
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    }
    assert not any("采矿业" in t or "国际组织" in t or "煤炭开采" in t for t in text)
    listed = [row for row in book.worksheets[-1].iter_rows(values_only=True)]
    assert any("煤炭开采" in str(r[1]) and "不足 5 家" in str(r[2]) for r in listed)


def test_public_export_needs_published_results(client):
    survey = covid_survey()
    assert client.get(f"/surveys/{survey.slug}/results.xlsx").status_code == 404
