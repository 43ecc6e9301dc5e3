"""The demo responses reproduce the association's findings and load only once."""

import io
import random

import pytest

from cqa_portal.core.reference import Province
from members.models import MemberCompany
from surveys import covid, demo
from surveys.models import Response, Survey
from surveys.summary import compute_summary
from tests.factories import UserFactory

from .factories import CompanyFactory

pytestmark = pytest.mark.django_db

SECTIONS = {"C": 40, "E": 10, "G": 8, "H": 8, "I": 8, "F": 6, "D": 5, "M": 5, "J": 3, "L": 3}
DIVISIONS = {
    "C": ["汽车制造业", "酒、饮料和精制茶制造业", "医药制造业", "通用设备制造业",
          "化学原料和化学制品制造业"],
    "E": ["房屋建筑业"],
    "H": ["住宿业", "餐饮业"],
}  # fmt: skip


@pytest.fixture
def companies():
    rng = random.Random(1)
    weights = {code: 2 for code in Province.values}
    weights.update({"42": 40, "44": 20, "32": 18, "11": 14})
    for _ in range(260):
        section = rng.choices(list(SECTIONS), weights=list(SECTIONS.values()))[0]
        CompanyFactory(
            province=rng.choices(list(weights), weights=list(weights.values()))[0],
            industry_section=section,
            industry_division=rng.choice(DIVISIONS.get(section, [""])),
            status=MemberCompany.Status.ACTIVE if rng.random() < 0.95 else "lapsed",
        )


def seed():
    demo.seed(io.StringIO(), accounts={"staff": None, "member": UserFactory()})


def test_demo_reproduces_the_findings(companies):
    seed()
    survey = Survey.objects.get(slug=covid.SLUG)
    assert survey.results_published
    assert survey.snapshots.count() == 1
    data = compute_summary(survey)
    key = data["key"]
    assert 83 <= key["overall"]["affected_pct"] <= 87
    assert key["fully_among_resumed_pct"] > 30
    assert key["partly_among_resumed_pct"] > 60
    assert key["hubei"]["affected_pct"] > 90
    assert key["hubei"]["not_resumed_pct"] > 35
    assert key["hubei"]["fully_pct"] == 0  # the rest partly resumed
    # The few not resumed are concentrated in Hubei.
    degree = {r["group"]: r for r in key["tables"]["region"]}
    not_resumed_elsewhere = sum(r["not_resumed"] for g, r in degree.items() if g != "hubei")
    assert degree["hubei"]["not_resumed"] > not_resumed_elsewhere
    # Most and least affected industries.
    industries = [r["group"] for r in key["tables"]["industry"]]
    for most in ("H", "G", "E"):
        for least in ("D", "I", "M", "J"):
            assert industries.index(most) < industries.index(least)
    divisions = {r["group"]: r["serious_pct"] for r in key["tables"]["division"]}
    for most in ("汽车制造业", "酒、饮料和精制茶制造业", "通用设备制造业"):
        for least in ("医药制造业", "化学原料和化学制品制造业"):
            assert divisions[most] > divisions[least]
    assert key["needs"][:3] == ["training", "policies", "publicity"]
    assert set(key["impact_areas"]) >= {"staff_returning", "manufacturing", "sales", "costs"}


def test_demo_is_idempotent(companies):
    seed()
    count = Response.objects.count()
    seed()
    assert Response.objects.count() == count
    assert Survey.objects.get(slug=covid.SLUG).snapshots.count() == 1


def test_demo_without_companies_creates_nothing():
    seed()
    assert not Response.objects.exists()
    assert not Survey.objects.get(slug=covid.SLUG).snapshots.exists()


def test_demo_leaves_the_member_company_to_answer(companies):
    from members.models import CompanyMembership

    member = UserFactory()
    own = CompanyFactory(province="42")
    CompanyMembership.objects.create(user=member, company=own, role="admin")
    demo.seed(io.StringIO(), accounts={"staff": None, "member": member})
    assert not Response.objects.filter(company=own).exists()
    assert Response.objects.exists()
