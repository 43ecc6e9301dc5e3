"""Needs drive courses: sessions on the needs a company reported come first on its dashboard,
and staff see the demand per topic beside the sessions planned (counts worked out by hand)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from courses import demand
from courses.models import Session, TopicNeed
from surveys import covid
from surveys.models import Survey
from tests.factories import StaffFactory, UserFactory
from tests.members.factories import CompanyFactory, MembershipFactory
from tests.surveys.factories import COMPLETE, covid_survey, file_response

from .factories import SessionFactory, TopicFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("uncached_pages")]
URL = "/courses/staff/demand/"


def _soon(days):
    return (timezone.now() + timedelta(days=days)).replace(second=0, microsecond=0)


@pytest.fixture
def world():
    Survey.objects.filter(slug=covid.SLUG).update(status=Survey.Status.DRAFT)
    survey = covid_survey()
    tools, policy, other = TopicFactory(), TopicFactory(), TopicFactory()
    TopicNeed.objects.create(topic=tools, need_code="training")
    TopicNeed.objects.create(topic=policy, need_code="policies")
    companies = {
        "hubei": CompanyFactory(province="42"),
        "north": CompanyFactory(province="11"),
        "south": CompanyFactory(province="44"),
        "draft": CompanyFactory(province="44"),
    }
    needs = {
        "hubei": ["training", "policies"],
        "north": ["training"],
        "south": ["publicity"],
        "draft": ["training"],
    }
    for key, company in companies.items():
        file_response(survey, company, {**COMPLETE, "needs": needs[key]}, submit=key != "draft")
    sessions = {
        "other_first": SessionFactory(topic=other, starts_at=_soon(1)),
        "tools_later": SessionFactory(topic=tools, starts_at=_soon(5)),
        "tools_last": SessionFactory(topic=tools, starts_at=_soon(9)),
        "policy": SessionFactory(topic=policy, starts_at=_soon(3)),
        "cancelled": SessionFactory(topic=other, starts_at=_soon(2), status="cancelled"),
        "held": SessionFactory(topic=tools, starts_at=_soon(-10), status=Session.Status.ENDED),
    }
    return {"tools": tools, "policy": policy, "other": other, "sessions": sessions, **companies}


def test_demand_by_topic_equals_counts_by_hand(world):
    data = demand.demand_by_topic()
    assert data["responses"] == 3  # the draft is not counted
    rows = {row.topic: row for row in data["topics"]}
    tools, policy, other = rows[world["tools"]], rows[world["policy"]], rows[world["other"]]
    assert (tools.companies, tools.pct) == (2, Decimal("66.7"))
    assert (policy.companies, policy.pct) == (1, Decimal("33.3"))
    assert other.pct is None and other.needs == []
    by_region = {cell["group"]: cell["pct"] for cell in tools.by_region}
    assert by_region == {"hubei": Decimal("100.0"), "north": Decimal("100.0"), "south": Decimal(0)}
    assert {c["group"]: c["count"] for c in policy.by_region} == {
        "hubei": 1,
        "north": 0,
        "south": 0,
    }
    assert (tools.planned, tools.held) == (2, 1)
    assert (policy.planned, policy.held) == (1, 0)
    assert (other.planned, other.held) == (1, 0)  # the cancelled session is neither


def test_staff_page_has_fixed_queries(client, world, django_assert_num_queries):
    client.force_login(StaffFactory())
    response = client.get(URL)
    assert response.status_code == 200
    assert "66.7%" in response.content.decode()
    for n in range(8):
        company = CompanyFactory(province="31", name=f"更多企业{n}")
        file_response(Survey.objects.exclude(status="draft").get(), company, COMPLETE)
        SessionFactory(topic=world["policy"], starts_at=_soon(20 + n))
    with django_assert_num_queries(5):  # the user (the session is cached), then four
        assert client.get(URL).status_code == 200


def test_staff_only(client):
    response = client.get(URL)
    assert response.status_code == 302 and "login" in response["Location"]
    client.force_login(UserFactory())
    assert client.get(URL).status_code in (302, 403)


def test_sessions_on_reported_needs_come_first(world):
    north = [s.pk for s in demand.recommended_sessions(company=world["north"])]
    s = world["sessions"]
    assert north == [s["tools_later"].pk, s["tools_last"].pk, s["other_first"].pk, s["policy"].pk]
    hubei = demand.recommended_sessions(company=world["hubei"])
    assert [x.pk for x in hubei[:3]] == [s["policy"].pk, s["tools_later"].pk, s["tools_last"].pk]
    assert all(x.matches_needs for x in hubei[:3]) and not hubei[3].matches_needs
    # No need a topic answers: by start time only.
    south = [x.pk for x in demand.recommended_sessions(company=world["south"])]
    assert south == [s["other_first"].pk, s["policy"].pk, s["tools_later"].pk, s["tools_last"].pk]


def test_member_dashboard_lists_them_first_with_fixed_queries(client, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    membership = MembershipFactory(company=world["north"])
    client.force_login(membership.user)

    def load():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/members/")
        assert response.status_code == 200
        return response, len(ctx.captured_queries)

    response, first = load()
    html = response.content.decode()
    assert html.index(world["sessions"]["tools_later"].title) < html.index(
        world["sessions"]["other_first"].title
    )
    assert "符合贵单位提出的需求" in html
    for n in range(10):
        SessionFactory(topic=world["tools"], starts_at=_soon(30 + n))
        file_response(
            Survey.objects.exclude(status="draft").get(),
            CompanyFactory(name=f"另一家{n}"),
            COMPLETE,
        )
    _response, again = load()
    assert again == first
