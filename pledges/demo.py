"""Demo content for `seed_demo`: the 2020 open letter with its initiative, the alliance and its
initiative, a few hundred signatures and some co-sign applications. Idempotent.

The texts restate, in our own words, the facts of the association's press release of
2020-03-20. The release does not name the alliance's other 15 associations, so they appear as
clearly marked sample entries.
"""

from __future__ import annotations

import datetime
import random
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cqa_portal.core.reference import Province

from . import services
from .models import (
    Alliance,
    AllianceMember,
    CoSignature,
    Initiative,
    InitiativeItem,
    OpenLetter,
    Signature,
    SignatureKind,
)

TZ = datetime.timezone(timedelta(hours=8))
PUBLISHED = datetime.datetime(2020, 3, 20, 9, 0, tzinfo=TZ)
COSIGN_FIRST_APPLIED = datetime.datetime(2020, 3, 14, 10, 0, tzinfo=TZ)

LETTER = {
    "slug": "2020-resuming-work",
    "title": "致全体会员、全国质协系统和全国质量工作者的公开信",
    "title_en": (
        "Open letter to all members, the national quality-association system and quality workers"
    ),
    "date": datetime.date(2020, 3, 20),
    "addressees": "全体会员单位、全国质协系统、全国质量工作者",
    "addressees_en": (
        "All member organisations, the national quality-association system and all quality workers"
    ),
    "body": (
        "面对新冠肺炎疫情和疫情过后的新形势，中国质量协会在做好自身防控的同时，"
        "愿与大家并肩，发挥质量领域的专业优势，帮助企业科学防疫、有序复工复产。\n\n"
        "为此，协会向大家作出以下**三项承诺**，并向广大企业和质量工作者发出倡议。"
    ),
    "body_en": (
        "As the epidemic continues and its aftermath takes shape, the China Association for "
        "Quality, while protecting its own staff, wants to stand beside you and use its quality "
        "expertise to help enterprises prevent infection and resume work in good order.\n\n"
        "The association therefore makes the **three commitments** below and calls on "
        "enterprises and quality workers to join the initiative that follows."
    ),
}
COMMITMENTS = [
    (
        "把质量安全放在首位：领会中央关于疫情防控的部署，科学研判形势，增强质量安全意识，"
        "统一行动、守土尽责，落实联防联控措施，与大家一起筑牢群防群治的防线。",
        "Put quality and safety first: follow the national arrangements for epidemic control, "
        "judge the situation soberly, raise awareness of quality and safety, act in unison with "
        "clear responsibilities and carry out joint prevention and control with everyone.",
    ),
    (
        "主动承担社会责任：疫情期间面向全链条免费提供质量公益课程，"
        "并在协会力所能及的范围内，向湖北等疫情严重地区捐赠。",
        "Take on our social responsibility: during the epidemic, offer free public-benefit "
        "quality courses covering the whole chain and, as far as the association can, donate to "
        "the hardest-hit areas such as Hubei.",
    ),
    (
        "与会员企业共渡难关：为经营困难的企业会员减免会费、提供免费培训和指导，"
        "并为奋战在抗疫一线的医疗机构提供质量专业支持。",
        "Stand with our member enterprises: reduce or waive membership fees and give free "
        "training and guidance to members in business difficulty, and give professional quality "
        "support to medical institutions on the front line.",
    ),
]
INITIATIVE = {
    "slug": "2020-quality-initiative",
    "title": "致广大企业和质量工作者的倡议",
    "title_en": "Initiative to enterprises and quality workers",
    "intro": "我们倡议，并欢迎企业和质量工作者签名响应：",
    "intro_en": "We call on enterprises and quality workers to sign and act on these three points:",
}
INITIATIVE_ITEMS = [
    (
        "安全第一，不忘发展：在确保安全的前提下，有序恢复生产经营。",
        "Safety first, without losing sight of development: resume work in good order once "
        "safety is ensured.",
    ),
    (
        "守住质量底线：加强企业自律，诚信经营，确保质量水平不因疫情而下降。",
        "Hold the quality bottom line: strengthen self-discipline, operate honestly and let no "
        "quality level slip because of the epidemic.",
    ),
    (
        "疫后总结提高：认真总结经验得失，扬长补短，以质量人的担当让质量工作更有成效，"
        "为社会高质量发展建言献策。",
        "Learn and improve afterwards: review what worked and what did not, build on strengths, "
        "make quality work more effective and offer advice for high-quality development.",
    ),
]
ALLIANCE = {
    "slug": "resumption-alliance",
    "name": "国资委直管协会服务企业复工复产协作联盟",
    "name_en": (
        "Alliance of SASAC-managed associations serving enterprises' resumption of work and "
        "production"
    ),
    "founded_on": datetime.date(2020, 3, 13),
    "description": (
        "2020年3月13日，在国务院国资委的支持推动下，包括中国质量协会在内的16家国资委直管协会"
        "自愿结成协作联盟，共同服务行业企业复工复产、促进经济发展，并向社会和行业发出倡议。"
    ),
    "description_en": (
        "On 13 March 2020, with the support of SASAC, sixteen national associations directly "
        "managed by SASAC, the China Association for Quality among them, chose to form this "
        "alliance to help enterprises in their industries resume work and to support the "
        "economy, and issued an initiative to society and industry."
    ),
}
ALLIANCE_INITIATIVE = {
    "slug": "2020-alliance-initiative",
    "title": "服务企业复工复产协作联盟倡议书",
    "title_en": "Initiative of the alliance",
    "intro": "联盟成员协会共同倡议：",
    "intro_en": "The member associations of the alliance jointly undertake to:",
}
ALLIANCE_ITEMS = [
    (
        "坚持党建引领，把准政治方向，自觉担起国家和民族赋予的责任。",
        "Let party building lead, keep to the right political direction and shoulder the "
        "responsibilities the nation entrusts to us.",
    ),
    (
        "坚持扎根行业、服务为本，当好参谋助手，架好政府与企业之间的桥梁。",
        "Stay rooted in our industries with service first, advising government and bridging "
        "government and enterprises.",
    ),
    (
        "坚持整合资源、优势互补，共同搭建务实管用的服务平台。",
        "Pool resources and complement each other's strengths to build a practical shared "
        "service platform.",
    ),
    (
        "坚持行业自律、规范运作，助力经济高质量发展。",
        "Uphold industry self-discipline and proper operation, supporting high-quality economic "
        "development.",
    ),
    (
        "坚持弘扬先进、树立新风，汇聚干事创业的正能量。",
        "Promote good examples and a fresh public spirit that rallies positive energy for work.",
    ),
]
CAQ = {
    "name": "中国质量协会",
    "name_en": "China Association for Quality",
    "short_name": "中国质协",
    "website": "https://www.caq.org.cn/",
    "order": 1,
}
SAMPLE_COUNT = 15

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘蒋蔡余杜叶程"
GIVEN = "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 涛 明 超 秀英 霞 平 桂英 建华 志强".split()
FIRM_WORDS = "华信 中科 长城 东方 宏达 恒瑞 鑫源 嘉禾 盛世 德隆 泰和 安联 金桥 博远".split()
FIRM_TRADES = "精密制造 汽车零部件 医药 电子科技 建设工程 食品 机械 新材料 物流 化工 包装".split()
TITLES = ["总经理", "质量总监", "质量部部长", "董事长", "副总经理", "首席质量官"]
WORKPLACES = ["质量管理部", "检验中心", "技术研究院", "生产部", "质量保证部", "计量室"]
PROVINCE_WEIGHTS = {code: 2 for code in Province.values}
PROVINCE_WEIGHTS.update({"42": 30, "44": 18, "32": 16, "33": 14, "37": 12, "11": 12, "31": 12})
CONFIRMED_COUNT = 360
UNCONFIRMED_COUNT = 6


def _weighted(rng: random.Random, weights: dict) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _publish(model, slug: str, fields: dict):
    obj, created = model.objects.get_or_create(
        slug=slug, defaults={**fields, "is_published": True, "published_at": PUBLISHED}
    )
    return obj, created


def _items(parent, relation: str, rows) -> None:
    manager = getattr(parent, relation)
    if manager.exists():
        return
    model = manager.model
    fk = "initiative" if model is InitiativeItem else "letter"
    model.objects.bulk_create(
        model(**{fk: parent}, order=i, text=text, text_en=text_en)
        for i, (text, text_en) in enumerate(rows, 1)
    )


def _signatures(initiative: Initiative, rng: random.Random) -> None:
    rows = []
    for i in range(CONFIRMED_COUNT + UNCONFIRMED_COUNT):
        province = _weighted(rng, PROVINCE_WEIGHTS)
        enterprise = rng.random() < 0.4
        person = rng.choice(SURNAMES) + rng.choice(GIVEN)
        firm = f"{rng.choice(FIRM_WORDS)}{rng.choice(FIRM_TRADES)}有限公司"
        confirmed = i < CONFIRMED_COUNT
        rows.append(
            Signature(
                initiative=initiative,
                kind=SignatureKind.ENTERPRISE if enterprise else SignatureKind.INDIVIDUAL,
                status=Signature.Status.CONFIRMED if confirmed else Signature.Status.PENDING,
                name=person,
                title=rng.choice(TITLES) if enterprise else "",
                organisation=firm if enterprise else f"{firm}{rng.choice(WORKPLACES)}",
                province=province,
                email=f"demo-signer-{i:04d}@example.com",
                show_name=rng.random() < 0.75,
                link_key=secrets.token_urlsafe(12),
                consent_at=timezone.now(),
                confirmed_at=(
                    PUBLISHED + timedelta(minutes=rng.randint(30, 60 * 24 * 70))
                    if confirmed
                    else None
                ),
            )
        )
    Signature.objects.bulk_create(rows, ignore_conflicts=True)
    # Demo signatures were signed shortly before they were confirmed in spring 2020.
    Signature.objects.filter(
        initiative=initiative, email__startswith="demo-signer-", confirmed_at__isnull=False
    ).update(created_at=F("confirmed_at") - timedelta(minutes=20))
    services.tally_rebuild(initiative_id=initiative.pk)


def _cosignatures(alliance: Alliance, staff) -> None:
    samples = [
        ("示例质量技术研究院（样例）", "Sample Quality Technology Institute (sample)",
         CoSignature.OrganisationType.INSTITUTION, "11", True),
        ("示例省质量协会（样例）", "Sample Provincial Quality Association (sample)",
         CoSignature.OrganisationType.ASSOCIATION, "42", True),
        ("示例检验认证有限公司（样例）", "Sample Testing and Certification Co. (sample)",
         CoSignature.OrganisationType.ENTERPRISE, "44", False),
    ]  # fmt: skip
    for n, (name, name_en, kind, province, approve) in enumerate(samples):
        cosignature, created = CoSignature.objects.get_or_create(
            alliance=alliance,
            organisation=name,
            defaults={
                "organisation_en": name_en,
                "organisation_type": kind,
                "province": province,
                "contact_name": "示例联系人",
                "contact_email": "cosign-contact@example.com",
                "statement": "示例数据：愿与联盟共同服务企业复工复产。",
                "consent_at": timezone.now(),
            },
        )
        if created and approve:
            services.cosign_decide(
                cosignature_ids=[cosignature.pk],
                approve=True,
                actor=staff,
                note="示例数据：已核实单位信息与联系人。",
            )
        if created:
            # Demo co-signatures were filed after the alliance was founded, in March 2020: the
            # first approved before the release of 20 March, the second after it.
            applied = COSIGN_FIRST_APPLIED + timedelta(days=7 * n)
            CoSignature.objects.filter(pk=cosignature.pk).update(
                created_at=applied,
                decided_at=applied + timedelta(days=2) if approve else None,
            )


@transaction.atomic
def seed(stdout, *, accounts) -> None:
    rng = random.Random(313)  # noqa: S311 - deterministic demo data
    initiative, _ = _publish(Initiative, INITIATIVE["slug"], INITIATIVE)
    _items(initiative, "items", INITIATIVE_ITEMS)
    letter, _ = _publish(OpenLetter, LETTER["slug"], {**LETTER, "initiative": initiative})
    _items(letter, "commitments", COMMITMENTS)

    alliance_initiative, _ = _publish(
        Initiative,
        ALLIANCE_INITIATIVE["slug"],
        {**ALLIANCE_INITIATIVE, "accepts_signatures": False},
    )
    _items(alliance_initiative, "items", ALLIANCE_ITEMS)
    alliance, _ = _publish(
        Alliance, ALLIANCE["slug"], {**ALLIANCE, "initiative": alliance_initiative}
    )
    AllianceMember.objects.get_or_create(
        alliance=alliance, name=CAQ["name"], defaults={**CAQ, "joined_on": alliance.founded_on}
    )
    for n in range(1, SAMPLE_COUNT + 1):
        AllianceMember.objects.get_or_create(
            alliance=alliance,
            name=f"示例协会{n:02d}（样例，公告未列名）",
            defaults={
                "name_en": f"Sample association {n:02d} (placeholder, not named in the release)",
                "short_name": f"示例{n:02d}",
                "joined_on": alliance.founded_on,
                "order": n + 1,
                "is_sample": True,
            },
        )

    if not Signature.objects.filter(initiative=initiative).exists():
        _signatures(initiative, rng)
    _cosignatures(alliance, accounts["staff"])
