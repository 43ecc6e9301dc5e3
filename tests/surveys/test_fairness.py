"""The fairness view (/surveys/staff/fairness/): by province, industry and size, the share
seriously affected beside relief asked, approved and the amounts; figures checked against
counts worked out by hand; fixed queries; staff only; a bad year is refused clearly."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from members.models import MemberCompany, ReliefRequest
from surveys import covid, fairness
from surveys.models import Survey
from tests.factories import StaffFactory, UserFactory
from tests.members.factories import CompanyFactory, FeeFactory, ReliefFactory

from .factories import COMPLETE, covid_survey, file_response

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("uncached_pages")]
URL = "/surveys/staff/fairness/"
QUERIES = 9  # the user (the session is cached), then the view's eight, whatever the size


def _company(province, section, size, *, impact=None, relief=None, survey=None, **kwargs):
    company = CompanyFactory(province=province, industry_section=section, size_band=size, **kwargs)
    FeeFactory(company=company, year=2020, amount_due=Decimal("3000.00"))
    if impact:
        file_response(survey, company, {**COMPLETE, "impact_degree": impact})
    if relief:
        kind, status, asked, granted = relief
        now = timezone.now()
        ReliefFactory(
            company=company,
            kind=kind,
            status=status,
            requested_amount=asked,
            granted_amount=granted,
            submitted_at=now,
            decided_at=now if status not in ReliefRequest.PENDING_STATUSES else None,
        )
    return company


@pytest.fixture
def survey():
    Survey.objects.filter(slug=covid.SLUG).update(status=Survey.Status.DRAFT)
    return covid_survey()


@pytest.fixture
def companies(survey):
    waiver, reduction = ReliefRequest.Kind.WAIVER, ReliefRequest.Kind.REDUCTION
    s = ReliefRequest.Status
    return [
        _company("42", "C", "medium", impact="severe", relief=(waiver, s.APPROVED, None, 3000),
                 survey=survey),
        _company("42", "C", "small", impact="moderate",
                 relief=(reduction, s.REJECTED, Decimal(1000), None), survey=survey),
        _company("11", "E", "large", impact="none", survey=survey),
        _company("11", "E", "medium", impact="slight",
                 relief=(reduction, s.PARTLY_APPROVED, Decimal(500), Decimal(250)),
                 survey=survey),
        _company("11", "C", "medium", relief=(waiver, s.SUBMITTED, None, None)),
        # Not an active member: not counted anywhere.
        _company("42", "C", "medium", impact="severe", relief=(waiver, s.APPROVED, None, 3000),
                 survey=survey, status=MemberCompany.Status.LAPSED),
    ]  # fmt: skip


def _table(tables, dimension):
    table = next(t for t in tables if t.dimension == dimension)
    return {row["group"]: row for row in table.rows}, table.total


def test_figures_equal_counts_worked_out_by_hand(survey, companies):
    tables = fairness.fairness_tables(survey=survey, year=2020)
    rows, total = _table(tables, "province")
    hubei, beijing = rows["42"], rows["11"]
    assert (hubei["members"], hubei["responded"], hubei["serious"]) == (2, 2, 2)
    assert hubei["serious_pct"] == Decimal("100.0")
    assert (hubei["requested"], hubei["requested_pct"]) == (2, Decimal("100.0"))
    assert hubei["serious_requested_pct"] == Decimal("100.0")
    assert (hubei["granted"], hubei["granted_pct"]) == (1, Decimal("50.0"))
    assert hubei["serious_granted_pct"] == Decimal("50.0")
    assert hubei["asked"] == Decimal("4000.00")  # the waived fee and the reduction asked
    assert hubei["granted_amount"] == Decimal("3000.00")
    assert (beijing["members"], beijing["responded"], beijing["serious"]) == (3, 2, 0)
    assert beijing["requested_pct"] == Decimal("66.7")  # 2 of 3, rounded half up
    assert beijing["serious_requested_pct"] is None
    assert (beijing["granted"], beijing["granted_pct"]) == (1, Decimal("50.0"))
    assert beijing["asked"] == Decimal("3500.00")
    assert beijing["granted_amount"] == Decimal("250.00")
    assert hubei["small"] and beijing["small"]  # fewer than 5 responded: marked for staff
    assert (total["members"], total["responded"], total["serious"], total["requested"]) == (
        5, 4, 2, 4,
    )  # fmt: skip
    assert total["asked"] == Decimal("7500.00") and total["granted_amount"] == Decimal("3250.00")
    # Hardest hit first.
    assert [r["group"] for r in next(t for t in tables if t.dimension == "province").rows] == [
        "42",
        "11",
    ]
    sizes, _total = _table(tables, "size")
    assert sizes["medium"]["members"] == 3 and sizes["medium"]["serious"] == 1
    assert sizes["medium"]["requested"] == 3 and sizes["medium"]["granted"] == 2
    assert sizes["large"]["requested"] == 0 and sizes["large"]["requested_pct"] == Decimal("0.0")
    sections, _total = _table(tables, "industry")
    assert sections["C"]["members"] == 3 and sections["E"]["members"] == 2
    for table in tables:  # every dimension adds up to the same total
        assert sum(r["members"] for r in table.rows) == 5
        assert sum(r["requested"] for r in table.rows) == 4


def test_page_shows_the_tables_with_a_fixed_number_of_queries(
    client, survey, companies, django_assert_num_queries
):
    client.force_login(StaffFactory())
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "湖北省" in html and "†" in html
    assert re.search(r">4,?000\.00<", html)
    for n in range(12):
        _company(
            "44",
            "H",
            "small",
            impact="severe",
            relief=(ReliefRequest.Kind.WAIVER, ReliefRequest.Status.APPROVED, None, 3000),
            survey=survey,
            name=f"更多企业{n}",
        )
    with django_assert_num_queries(QUERIES):
        assert client.get(URL, {"year": "2020"}).status_code == 200


def test_staff_only(client):
    response = client.get(URL)
    assert response.status_code == 302 and "login" in response["Location"]
    client.force_login(UserFactory())
    response = client.get(URL)
    assert response.status_code in (302, 403)


@pytest.mark.parametrize("year", ["1999", "abc", "2020x"])
def test_bad_year_is_refused_clearly(client, survey, companies, year):
    client.force_login(StaffFactory())
    response = client.get(URL, {"year": year}, follow=True)
    assert response.status_code == 200
    assert "年度没有会费记录" in response.content.decode()
