import datetime
import random
from decimal import Decimal

import factory
from django.utils import timezone

from cqa_portal.core.validators import USCC_ALPHABET, uscc_check_char
from members.models import (
    CompanyMembership,
    MemberCompany,
    MembershipFee,
    MembershipLevel,
    ReliefReason,
    ReliefRequest,
)
from tests.factories import UserFactory

_rng = random.Random(42)

LEVEL_FEES = {"council": Decimal("10000.00"), "ordinary": Decimal("3000.00")}


def level(code: str = "ordinary") -> MembershipLevel:
    """The level seeded by migration 0002 (re-created if a transactional test emptied the table)."""
    return MembershipLevel.objects.get_or_create(
        code=code, defaults={"name": code, "annual_fee": LEVEL_FEES[code]}
    )[0]


def reason(code: str) -> ReliefReason:
    return ReliefReason.objects.get_or_create(code=code)[0]


def make_uscc(province: str = "42") -> str:
    body = "91" + province + "0100" + "".join(_rng.choice(USCC_ALPHABET) for _ in range(9))
    return body + uscc_check_char(body + "0")


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MemberCompany

    name = factory.Sequence(lambda n: f"测试质量有限公司{n}")
    uscc = factory.LazyAttribute(lambda o: make_uscc(o.province))
    province = "42"
    industry_section = "C"
    size_band = MemberCompany.SizeBand.MEDIUM
    level = factory.LazyFunction(level)
    status = MemberCompany.Status.ACTIVE
    member_since = datetime.date(2015, 1, 1)
    contact_email = factory.Sequence(lambda n: f"contact{n}@company.example.com")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CompanyMembership

    user = factory.SubFactory(UserFactory)
    company = factory.SubFactory(CompanyFactory)
    role = CompanyMembership.Role.ADMIN


class FeeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MembershipFee

    company = factory.SubFactory(CompanyFactory)
    year = 2020
    amount_due = Decimal("3000.00")
    due_date = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=60))
    status = MembershipFee.Status.DUE


class ReliefFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReliefRequest
        skip_postgeneration_save = True

    company = factory.SubFactory(CompanyFactory)
    year = 2020
    kind = ReliefRequest.Kind.WAIVER
    status = ReliefRequest.Status.SUBMITTED
    explanation = "停工两个月"

    @factory.post_generation
    def reasons(self, create, extracted, **kwargs):
        if create:
            self.reasons.set(extracted or [reason("production")])
