"""Demo member companies, fees for 2020 and relief requests in every state. Idempotent."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from django.db import transaction

from cqa_portal.core.reference import Province
from cqa_portal.core.validators import USCC_ALPHABET, uscc_check_char

from . import services
from .models import (
    CompanyMembership,
    MemberCompany,
    MembershipFee,
    MembershipLevel,
    ReliefReason,
    ReliefRequest,
)

DEMO_COMPANY_COUNT = 320
FEE_YEAR = 2020
FEE_DUE = datetime.date(2020, 3, 31)
RELIEF_FIRST_FILED = datetime.datetime(
    2020, 3, 2, 10, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8))
)
MEMBER_COMPANY_USCC = "91420100MA4KDEM01X"  # check character recomputed below

# Province weights: Hubei well represented, every province present.
WEIGHTS = {code: 2 for code in Province.values}
WEIGHTS.update({"42": 40, "44": 20, "32": 18, "33": 16, "37": 14, "11": 14, "31": 14, "41": 10})
SECTIONS = {"C": 40, "E": 10, "G": 8, "H": 8, "I": 8, "F": 6, "D": 5, "M": 5, "J": 3, "L": 3}
DIVISIONS = {
    "C": [
        "汽车制造业",
        "酒、饮料和精制茶制造业",
        "医药制造业",
        "通用设备制造业",
        "化学原料和化学制品制造业",
    ],
    "E": ["房屋建筑业", "土木工程建筑业"],
    "G": ["道路运输业", "航空运输业"],
    "H": ["住宿业", "餐饮业"],
}
PREFIXES = [
    "华",
    "中",
    "长",
    "东",
    "宏",
    "恒",
    "鑫",
    "瑞",
    "嘉",
    "盛",
    "德",
    "信",
    "泰",
    "安",
    "联",
]
MIDDLES = ["达", "业", "峰", "源", "通", "远", "锦", "发", "创", "博", "新", "昌", "和", "兴", "明"]
SUFFIXES = {
    "C": "制造", "D": "能源", "E": "建设", "F": "商贸", "G": "物流", "H": "酒店管理",
    "I": "信息技术", "J": "保险", "L": "商务服务", "M": "检测技术",
}  # fmt: skip


def _uscc(rng: random.Random, province: str, valid: bool = True) -> str:
    body = "91" + province + "0100" + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    check = uscc_check_char(body + "0")
    if not valid:
        check = USCC_ALPHABET[(USCC_ALPHABET.index(check) + 1) % 31]
    return body + check


def _choice(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@transaction.atomic
def seed(stdout, *, accounts) -> None:
    if MemberCompany.objects.filter(uscc__startswith="91").count() >= DEMO_COMPANY_COUNT:
        return
    rng = random.Random(2020)  # noqa: S311 - deterministic demo data
    staff, member = accounts["staff"], accounts["member"]
    levels = {level.code: level for level in MembershipLevel.objects.all()}
    province_names = dict(Province.choices)
    companies = []
    seen = set(MemberCompany.objects.values_list("uscc", flat=True))
    while len(companies) < DEMO_COMPANY_COUNT:
        province = _choice(rng, WEIGHTS)
        section = _choice(rng, SECTIONS)
        code = _uscc(rng, province, valid=rng.random() > 0.02)
        if code in seen:
            continue
        seen.add(code)
        name = (
            f"{province_names[province]}"
            f"{rng.choice(PREFIXES)}{rng.choice(MIDDLES)}{SUFFIXES.get(section, '实业')}有限公司"
        )
        company = MemberCompany(
            name=name,
            uscc=code,
            province=province,
            industry_section=section,
            industry_division=rng.choice(DIVISIONS.get(section, [""])),
            size_band=rng.choice(MemberCompany.SizeBand.values),
            level=levels["council"] if rng.random() < 0.15 else levels["ordinary"],
            member_since=datetime.date(rng.randint(2001, 2019), rng.randint(1, 12), 1),
            status=MemberCompany.Status.ACTIVE
            if rng.random() < 0.95
            else MemberCompany.Status.LAPSED,
            address=f"{province_names[province]}某区质量路 {rng.randint(1, 300)} 号",
            postal_code=f"{province}{rng.randint(0, 9999):04d}",
            contact_name=rng.choice(["王", "李", "张", "刘", "陈", "杨"])
            + rng.choice(["伟", "芳", "静", "强", "磊", "敏"]),
            contact_phone=f"1{rng.randint(3000000000, 9999999999)}",
            contact_email=f"contact{len(companies)}@demo-company.example.com",
        )
        companies.append(services.company_prepare(company))
    MemberCompany.objects.bulk_create(companies, ignore_conflicts=True)

    # The demo member account administers a company in Wuhan, Hubei.
    body = MEMBER_COMPANY_USCC[:17]
    own, _created = MemberCompany.objects.get_or_create(
        uscc=body + uscc_check_char(body + "0"),
        defaults={
            "name": "武汉华信精密制造有限公司",
            "name_en": "Wuhan Huaxin Precision Manufacturing Co., Ltd.",
            "province": "42",
            "industry_section": "C",
            "industry_division": "汽车制造业",
            "size_band": MemberCompany.SizeBand.MEDIUM,
            "level": levels["ordinary"],
            "member_since": datetime.date(2012, 5, 1),
            "status": MemberCompany.Status.ACTIVE,
            "address": "湖北省武汉市东湖新技术开发区光谷大道 77 号",
            "postal_code": "430074",
            "contact_name": "张明",
            "contact_phone": "027-87654321",
            "contact_email": member.email,
        },
    )
    if not CompanyMembership.objects.filter(user=member).exists():
        CompanyMembership.objects.create(
            user=member, company=own, role=CompanyMembership.Role.ADMIN
        )

    services.fees_generate(year=FEE_YEAR, due_date=FEE_DUE, actor=staff)
    fees = list(MembershipFee.objects.filter(year=FEE_YEAR).select_related("company"))
    paid = [f for f in fees if f.company_id != own.pk and rng.random() < 0.55]
    for fee in paid:
        fee.amount_paid = fee.amount_due
        fee.status = MembershipFee.Status.PAID
    MembershipFee.objects.bulk_update(paid, ["amount_paid", "status"])
    services.fees_mark_overdue(today=datetime.date(2020, 4, 1))

    _seed_relief(rng, own=own, staff=staff, member=member)


def _seed_relief(rng: random.Random, *, own, staff, member) -> None:
    reasons = list(ReliefReason.objects.all())
    unpaid = list(
        MembershipFee.objects.filter(year=FEE_YEAR, amount_paid=0)
        .exclude(company=own)
        .select_related("company")
        .order_by("company__province", "pk")[:14]
    )
    plan = [
        ("draft", ReliefRequest.Kind.WAIVER),
        ("submitted", ReliefRequest.Kind.REDUCTION),
        ("submitted", ReliefRequest.Kind.WAIVER),
        ("under_review", ReliefRequest.Kind.DEFERRAL),
        ("under_review", ReliefRequest.Kind.WAIVER),
        ("approved", ReliefRequest.Kind.WAIVER),
        ("approved", ReliefRequest.Kind.REDUCTION),
        ("approved", ReliefRequest.Kind.DEFERRAL),
        ("partly_approved", ReliefRequest.Kind.WAIVER),
        ("partly_approved", ReliefRequest.Kind.REDUCTION),
        ("rejected", ReliefRequest.Kind.REDUCTION),
        ("withdrawn", ReliefRequest.Kind.WAIVER),
    ]
    notes = {
        "approved": "经审核，情况属实，同意申请。",
        "partly_approved": "经审核，部分同意，减免一半会费。",
        "rejected": "所提交材料不足以证明经营困难，本次不予减免，可补充材料后重新申请。",
    }
    for n, (fee, (target, kind)) in enumerate(zip(unpaid, plan, strict=False)):
        if ReliefRequest.objects.filter(company=fee.company, year=FEE_YEAR).exists():
            continue
        relief = ReliefRequest(
            company=fee.company,
            year=FEE_YEAR,
            kind=kind,
            requested_amount=(fee.amount_due / 2).quantize(Decimal("0.01"))
            if kind == ReliefRequest.Kind.REDUCTION
            else None,
            deferral_until=datetime.date(2020, 9, 30)
            if kind == ReliefRequest.Kind.DEFERRAL
            else None,
            explanation="受疫情影响，一季度停工停产，订单大幅减少，资金周转困难。",
        )
        services.relief_request_save(
            relief=relief, reasons=rng.sample(reasons, 3), actor=staff, submit=target != "draft"
        )
        if target in ("under_review", "approved", "partly_approved", "rejected"):
            services.relief_request_start_review(relief=relief, actor=staff)
        if target in notes:
            granted = None
            if target == "partly_approved":
                asked = relief.requested_amount or fee.amount_due
                granted = (asked / 2).quantize(Decimal("0.01"))
            services.relief_request_decide(
                relief=relief,
                actor=staff,
                decision=target,
                note=notes[target],
                granted_amount=granted,
            )
        if target == "withdrawn":
            services.relief_request_withdraw(relief=relief, actor=staff)
        _date_relief(relief, n)

    own_fee = MembershipFee.objects.filter(company=own, year=FEE_YEAR).first()
    if own_fee and not ReliefRequest.objects.filter(company=own).exists():
        relief = ReliefRequest(
            company=own,
            year=FEE_YEAR,
            kind=ReliefRequest.Kind.REDUCTION,
            requested_amount=Decimal("1500.00"),
            explanation="公司位于武汉，2 月至 3 月中旬全面停工，复工后产能仅恢复约一半。",
        )
        services.relief_request_save(relief=relief, reasons=reasons[:3], actor=member, submit=True)
        _date_relief(relief, 4)


def _date_relief(relief: ReliefRequest, n: int) -> None:
    """Demo requests were filed in March 2020, one every two days from 2 March, and decided
    three days later (so some were still waiting on 20 March)."""
    filed = RELIEF_FIRST_FILED + datetime.timedelta(days=2 * n)
    rows = ReliefRequest.objects.filter(pk=relief.pk)
    rows.update(created_at=filed - datetime.timedelta(hours=1))
    rows.filter(submitted_at__isnull=False).update(submitted_at=filed)
    rows.filter(decided_at__isnull=False).update(decided_at=filed + datetime.timedelta(days=3))
