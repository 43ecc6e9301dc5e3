"""Demo responses to the impact survey from the demo member companies. Idempotent.

The answers are drawn with a fixed seed so that the summary reproduces the association's
findings of March 2020: about 85% of members affected; among those that resumed work over 30%
fully and over 60% partly; Hubei over 90% affected and over 35% not resumed, the rest partly;
tourism, hotels and catering, transport, construction, liquor and beverages, equipment and
automobile manufacturing most affected; power and heat, IT, research, pharmaceuticals, chemicals
and insurance least; needs led by quality-tools training, then supportive policies, then
publicity. Shares are assigned by quota (not left to chance), so the findings hold for any
reasonable set of demo companies. The demo member's own company is left unanswered, so the
demo account can try filing.
"""

from __future__ import annotations

import datetime
import math
import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from cqa_portal.core.reference import RegionGroup, region_group_of
from members.models import CompanyMembership, MemberCompany

from . import covid, services
from .models import Answer, Question, QuestionOption, Response, Survey

SEED = 20200320
# The survey ran from late February 2020; the demo responses were filed before the release of
# 20 March, and the demo's first summary is dated as made on 18 March, so the programme report as
# of 2020-03-20 shows the findings the release quoted. The survey stays open for the demo member.
BEIJING = datetime.timezone(timedelta(hours=8))
OPENS_AT = datetime.datetime(2020, 2, 24, 9, 0, tzinfo=BEIJING)
FIRST_FILED_AT = datetime.datetime(2020, 2, 25, 9, 0, tzinfo=BEIJING)
FILING_MINUTES = 19 * 24 * 60  # up to 15 March
SNAPSHOT_AT = datetime.datetime(2020, 3, 18, 17, 0, tzinfo=BEIJING)
AFFECTED_SHARE = 0.85
HUBEI_UNAFFECTED_SHARE = 0.05
HUBEI_NOT_RESUMED_SHARE = 0.40
OTHER_NOT_RESUMED_SHARE = 0.02
FULLY_AMONG_RESUMED = 0.36
NON_RESPONSE_SHARE = 0.08

# How hard the epidemic hit an industry (higher: more affected), by section and by keywords of
# the finer industry label.
SECTION_IMPACT = {
    "H": 3.0, "G": 2.8, "E": 2.6, "L": 2.5, "R": 2.5, "O": 2.0, "F": 1.8, "K": 1.6,
    "C": 1.6, "A": 1.4, "B": 1.4, "N": 1.4, "P": 1.5, "Q": 1.2, "S": 1.0, "T": 1.0,
    "J": 0.6, "M": 0.5, "I": 0.4, "D": 0.3,
}  # fmt: skip
DIVISION_IMPACT = [
    (("旅游", "旅行", "tour", "住宿", "酒店", "hotel", "餐饮"), 3.0),
    (("航空", "道路运输", "运输", "transport"), 2.8),
    (("建筑", "construction"), 2.6),
    (("酒", "饮料", "beverage", "liquor"), 2.5),
    (("汽车", "automobile", "vehicle"), 2.4),
    (("设备", "equipment"), 2.3),
    (("机械", "machinery"), 0.8),
    (("化学", "化工", "chemical"), 0.7),
    (("医药", "pharma"), 0.6),
    (("保险", "insurance"), 0.6),
    (("电力", "热力", "power", "heat"), 0.3),
    (("互联网", "计算机", "软件", "信息", "internet", "software"), 0.4),
]
REGION_IMPACT = {
    RegionGroup.HUBEI: 1.0,
    RegionGroup.NORTH_EAST: -0.6,
    RegionGroup.NORTH_WEST: -0.6,
    RegionGroup.CENTRE: -0.3,
}
AREA_SHARES = {
    "staff_returning": 0.78,
    "costs": 0.62,
    "sales": 0.57,
    "manufacturing": 0.48,
    "raw_materials": 0.41,
    "construction": 0.16,
    "other": 0.04,
}
NEED_SHARES = {"training": 0.72, "policies": 0.56, "publicity": 0.34, "other": 0.04}
OTHER_TEXTS = {
    covid.AREAS_QUESTION: ["物流运输受阻", "出口订单取消", "防疫物资短缺"],
    covid.NEEDS_QUESTION: ["融资和贷款支持", "防疫物资采购渠道", "远程办公工具"],
}
COMMENTS = [
    "希望协会继续开展线上公益课程，帮助员工居家学习。",
    "建议协会汇总各地复工政策，方便企业查询。",
    "原材料运输仍有困难，希望行业协会协调物流。",
    "感谢协会的会费减免政策，减轻了企业负担。",
    "希望组织复工复产质量管理经验交流。",
    "海外订单减少，希望了解出口方面的支持措施。",
]


def _industry_impact(section: str, division: str) -> float:
    for keywords, value in DIVISION_IMPACT:
        if division and any(k in division.lower() for k in keywords):
            return value
    return SECTION_IMPACT.get(section, 1.5)


def _quota(items: list, share: float) -> int:
    return min(len(items), round(share * len(items)))


def plan(companies: list[MemberCompany], rng: random.Random) -> dict[int, dict]:
    """Answers (by question code) for each company, from industry, region and quotas."""
    scored = []
    for company in companies:
        region = region_group_of(company.province)
        score = (
            _industry_impact(company.industry_section, company.industry_division)
            + REGION_IMPACT.get(region, 0.0)
            + rng.gauss(0, 0.45)
        )
        scored.append((score, company.pk, region == RegionGroup.HUBEI))
    scored.sort()
    hubei = [s for s in scored if s[2]]
    others = [s for s in scored if not s[2]]

    # Degree of impact: the lowest scores are not affected, the highest severely.
    unaffected_total = len(scored) - round(AFFECTED_SHARE * len(scored))
    hubei_none = min(math.floor(HUBEI_UNAFFECTED_SHARE * len(hubei)), unaffected_total)
    none = {pk for _s, pk, _h in others[: unaffected_total - hubei_none]}
    none |= {pk for _s, pk, _h in hubei[:hubei_none]}
    affected = [s for s in scored if s[1] not in none]
    degree = {pk: "none" for pk in none}
    third = len(affected) / 3
    for i, (_s, pk, _h) in enumerate(affected):
        degree[pk] = "slight" if i < third else "moderate" if i < 2 * third else "severe"

    # Resumption: Hubei's worst hit have not resumed, its others partly; elsewhere a few have
    # not resumed, the least affected resumed fully, the rest partly.
    resumption = {}
    hubei_not = math.ceil(HUBEI_NOT_RESUMED_SHARE * len(hubei))
    for i, (_s, pk, _h) in enumerate(reversed(hubei)):
        resumption[pk] = covid.NOT_RESUMED if i < hubei_not else covid.RESUMED_PARTLY
    other_not = max(1, _quota(others, OTHER_NOT_RESUMED_SHARE)) if others else 0
    for _s, pk, _h in others[len(others) - other_not :]:
        resumption[pk] = covid.NOT_RESUMED
    resumed = len(scored) - hubei_not - other_not
    fully = min(round(FULLY_AMONG_RESUMED * resumed), len(others) - other_not)
    for i, (_s, pk, _h) in enumerate(others[: len(others) - other_not]):
        resumption[pk] = covid.RESUMED_FULLY if i < fully else covid.RESUMED_PARTLY

    answers = {pk: {covid.IMPACT_QUESTION: degree[pk]} for _s, pk, _h in scored}
    # Impact areas for the affected, and needs for everyone, by exact quotas.
    affected_pks = [pk for _s, pk, _h in affected]
    for code, shares, pool in (
        (covid.AREAS_QUESTION, AREA_SHARES, affected_pks),
        (covid.NEEDS_QUESTION, NEED_SHARES, [pk for _s, pk, _h in scored]),
    ):
        for pk in pool:
            answers[pk][code] = []
        for option, share in shares.items():
            for pk in rng.sample(pool, _quota(pool, share)):
                answers[pk][code].append(option)
        for pk in pool:
            if not answers[pk][code]:
                answers[pk][code] = [next(iter(shares))]
            if "other" in answers[pk][code]:
                answers[pk][code + "__other"] = rng.choice(OTHER_TEXTS[code])

    for _s, pk, _h in scored:
        status = resumption[pk]
        answers[pk][covid.RESUMPTION_QUESTION] = status
        if status == covid.RESUMED_FULLY:
            answers[pk][covid.STAFF_QUESTION] = rng.randint(90, 100)
        elif status == covid.RESUMED_PARTLY:
            answers[pk][covid.STAFF_QUESTION] = rng.randint(40, 89)
        else:
            answers[pk][covid.STAFF_QUESTION] = rng.randint(0, 30)
        if status != covid.RESUMED_FULLY and rng.random() < 0.85:
            start = (
                datetime.date(2020, 4, 10)
                if status == covid.NOT_RESUMED
                else datetime.date(2020, 3, 25)
            )
            answers[pk]["full_resumption_date"] = start + timedelta(days=rng.randint(0, 75))
        if rng.random() < 0.15:
            answers[pk]["comments"] = rng.choice(COMMENTS)
    return answers


def _survey() -> Survey:
    survey = Survey.objects.filter(slug=covid.SLUG).first()
    if survey is None:
        now = timezone.now()
        survey = covid.install(
            Survey, Question, QuestionOption, opens_at=now, closes_at=now + timedelta(days=30)
        )
    if not survey.responses.exists() and survey.opens_at > OPENS_AT:
        Survey.objects.filter(pk=survey.pk).update(opens_at=OPENS_AT)
        survey.opens_at = OPENS_AT
    return survey


@transaction.atomic
def seed(stdout, *, accounts) -> None:
    survey = _survey()
    staff = accounts.get("staff")
    if not survey.responses.exists():
        _file_responses(survey, accounts, stdout)
    if survey.responses.exists():
        services.survey_set_published(survey=survey, published=True, actor=staff)
        if not survey.snapshots.exists():
            snapshot = services.summary_snapshot_make(survey_id=survey.pk)
            if (
                snapshot is not None
                and not survey.responses.filter(submitted_at__gte=SNAPSHOT_AT).exists()
            ):
                snapshot.data["made_at"] = SNAPSHOT_AT.isoformat()
                type(snapshot).objects.filter(pk=snapshot.pk).update(
                    created_at=SNAPSHOT_AT, data=snapshot.data
                )


def _file_responses(survey: Survey, accounts, stdout) -> None:
    rng = random.Random(SEED)
    member = accounts.get("member")
    own = CompanyMembership.objects.filter(user=member).values_list("company_id", flat=True)
    companies = list(
        MemberCompany.objects.filter(status=MemberCompany.Status.ACTIVE)
        .exclude(pk__in=list(own))
        .order_by("pk")
    )
    companies = [
        c
        for c in companies
        if region_group_of(c.province) == RegionGroup.HUBEI or rng.random() > NON_RESPONSE_SHARE
    ]
    if not companies:
        return
    answers = plan(companies, rng)
    questions = {q.code: q for q in survey.questions.prefetch_related("options")}
    options = {(q.code, o.code): o for q in questions.values() for o in q.options.all()}
    responses = Response.objects.bulk_create(
        [
            Response(
                survey=survey,
                company=company,
                status=Response.Status.SUBMITTED,
                province=company.province,
                region_group=region_group_of(company.province),
                industry_section=company.industry_section,
                industry_division=company.industry_division,
                submitted_at=FIRST_FILED_AT + timedelta(minutes=rng.randint(0, FILING_MINUTES)),
            )
            for company in companies
        ]
    )
    rows = []
    for response, company in zip(responses, companies, strict=True):
        for code, value in answers[company.pk].items():
            if code.endswith("__other") or code not in questions:
                continue
            question = questions[code]
            if question.is_choice:
                for option_code in value if isinstance(value, list) else [value]:
                    option = options[(code, option_code)]
                    text = answers[company.pk].get(code + "__other", "") if option.is_other else ""
                    rows.append(
                        Answer(response=response, question=question, option=option, text=text)
                    )
            elif question.kind == Question.Kind.NUMBER:
                rows.append(Answer(response=response, question=question, number=value))
            elif question.kind == Question.Kind.DATE:
                rows.append(Answer(response=response, question=question, date=value))
            else:
                rows.append(Answer(response=response, question=question, text=value))
    Answer.objects.bulk_create(rows, batch_size=2000)
    stdout.write(f"  impact survey: {len(responses)} responses filed")
