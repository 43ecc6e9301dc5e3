"""Demo data for ``seed_demo``: the February–March 2020 free live-course schedule (19 sessions
held across the five topics, 69,550 participant-times recorded) and a few upcoming sessions
relative to today, with registrations for the demo member. Idempotent: sessions are keyed by
fixed calendar identifiers; running it again creates nothing new (upcoming demo sessions that
have slipped into the past are moved forward again)."""

import uuid
from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from .models import (
    AttendanceRecord,
    Lecturer,
    Registration,
    Series,
    Session,
    Topic,
    TopicNeed,
)

NAMESPACE = uuid.UUID("6f1d3c2a-2020-4c0a-9a51-caa000000000")

TOPICS = [
    ("tqm", "全面质量管理", "Total quality management"),
    ("excellence", "卓越绩效模式", "Performance excellence model"),
    ("on-site", "现场管理", "On-site management"),
    ("tools", "质量工具", "Quality tools"),
    ("engineering", "质量工程", "Quality engineering"),
]

# The needs members report in the survey (option codes of its needs question) that each topic
# answers: "training in quality-management tools and methods" is met by the quality-tools and
# total-quality-management courses.
TOPIC_NEEDS = {"tools": ["training"], "tqm": ["training"]}

SERIES = [
    ("tqm-basics", "tqm", "全面质量管理基础系列", "Total quality management basics"),
    (
        "excellence-criteria",
        "excellence",
        "卓越绩效模式解读系列",
        "Performance excellence explained",
    ),
    ("on-site-practice", "on-site", "现场管理实战系列", "On-site management in practice"),
    ("qc-tools", "tools", "质量工具应用系列", "Applying quality tools"),
    ("quality-engineering", "engineering", "质量工程技术系列", "Quality engineering methods"),
]

LECTURERS = [
    (
        "刘建华",
        "研究员",
        "中国质量协会",
        "长期从事全面质量管理的研究与推广，参与多项国家标准的起草。",
    ),
    (
        "陈晓梅",
        "高级工程师",
        "中国质量协会培训中心",
        "质量管理体系审核员，为数百家企业讲授过体系建设课程。",
    ),
    (
        "王志强",
        "教授",
        "某理工大学管理学院",
        "研究卓越绩效模式和组织绩效评价，担任质量奖评审专家。",
    ),
    (
        "赵丽",
        "首席质量官",
        "某大型装备制造企业",
        "主持企业卓越绩效自评价和质量奖申报，熟悉制造业实践。",
    ),
    (
        "孙立新",
        "精益专家",
        "某汽车零部件企业",
        "二十年现场管理经验，擅长 5S、目视化管理和班组建设。",
    ),
    (
        "周敏",
        "注册质量工程师",
        "中国质量协会",
        "QC 小组活动诊断师，辅导企业开展质量改进和问题解决。",
    ),
    ("吴海涛", "高级工程师", "某电子信息企业", "长期从事统计过程控制与测量系统分析的企业应用。"),
    (
        "郑雪",
        "副教授",
        "某工业大学可靠性研究所",
        "研究可靠性工程与失效分析，主讲 FMEA 与可靠性设计课程。",
    ),
]

# (key, topic, series, lecturer indexes, date, start, title, English title, participants)
HELD = [
    (
        "h01",
        "tqm",
        "tqm-basics",
        [0],
        "2020-02-10",
        "14:30",
        "全面质量管理概论：从质量检验到全员参与",
        "Introduction to total quality management",
        5620,
    ),
    (
        "h02",
        "tools",
        "qc-tools",
        [5],
        "2020-02-11",
        "14:30",
        "QC 七大手法（上）：检查表、分层法与排列图",
        "The seven basic quality tools, part 1",
        5140,
    ),
    (
        "h03",
        "excellence",
        "excellence-criteria",
        [2],
        "2020-02-12",
        "14:30",
        "卓越绩效评价准则导读",
        "Reading the performance excellence criteria",
        4770,
    ),
    (
        "h04",
        "on-site",
        "on-site-practice",
        [4],
        "2020-02-14",
        "14:30",
        "复工现场的 5S 管理",
        "5S on the reopened shop floor",
        4060,
    ),
    (
        "h05",
        "tqm",
        "tqm-basics",
        [1],
        "2020-02-17",
        "14:30",
        "疫情期间的质量风险识别与应对",
        "Spotting and handling quality risks during the epidemic",
        4210,
    ),
    (
        "h06",
        "tools",
        "qc-tools",
        [5],
        "2020-02-18",
        "14:30",
        "QC 七大手法（下）：因果图、散布图与控制图",
        "The seven basic quality tools, part 2",
        4480,
    ),
    (
        "h07",
        "engineering",
        "quality-engineering",
        [7],
        "2020-02-20",
        "14:30",
        "失效模式与影响分析（FMEA）",
        "Failure mode and effects analysis (FMEA)",
        3860,
    ),
    (
        "h08",
        "excellence",
        "excellence-criteria",
        [2, 3],
        "2020-02-21",
        "14:30",
        "领导作用与战略管理",
        "Leadership and strategy",
        3520,
    ),
    (
        "h09",
        "on-site",
        "on-site-practice",
        [4],
        "2020-02-24",
        "14:30",
        "班组建设与现场改善",
        "Building teams and improving the shop floor",
        3240,
    ),
    (
        "h10",
        "tools",
        "qc-tools",
        [5],
        "2020-02-26",
        "14:30",
        "QC 小组活动与问题解决",
        "QC circles and problem solving",
        3350,
    ),
    (
        "h11",
        "tqm",
        "tqm-basics",
        [1],
        "2020-02-27",
        "14:30",
        "质量管理体系与企业复工复产",
        "Quality management systems and resuming production",
        3460,
    ),
    (
        "h12",
        "engineering",
        "quality-engineering",
        [6],
        "2020-03-02",
        "14:30",
        "测量系统分析（MSA）",
        "Measurement system analysis (MSA)",
        3020,
    ),
    (
        "h13",
        "excellence",
        "excellence-criteria",
        [3],
        "2020-03-04",
        "14:30",
        "过程管理与结果测量",
        "Managing processes and measuring results",
        3050,
    ),
    (
        "h14",
        "on-site",
        "on-site-practice",
        [4],
        "2020-03-06",
        "14:30",
        "目视化管理与标准作业",
        "Visual management and standard work",
        2910,
    ),
    (
        "h15",
        "tqm",
        "tqm-basics",
        [0],
        "2020-03-09",
        "14:30",
        "顾客满意与持续改进",
        "Customer satisfaction and continual improvement",
        3190,
    ),
    (
        "h16",
        "tools",
        "qc-tools",
        [6],
        "2020-03-11",
        "14:30",
        "统计过程控制（SPC）入门",
        "Introduction to statistical process control",
        3280,
    ),
    (
        "h17",
        "engineering",
        "quality-engineering",
        [7],
        "2020-03-13",
        "14:30",
        "可靠性工程基础",
        "Reliability engineering basics",
        2740,
    ),
    (
        "h18",
        "excellence",
        "excellence-criteria",
        [2, 3],
        "2020-03-16",
        "14:30",
        "卓越绩效自评价实务",
        "Self-assessment against the criteria in practice",
        2880,
    ),
    (
        "h19",
        "on-site",
        "on-site-practice",
        [4, 5],
        "2020-03-18",
        "14:30",
        "现场安全与质量双控",
        "Safety and quality on site together",
        2770,
    ),
]

# (key, topic, series, lecturers, days from today, title, English title, capacity)
UPCOMING = [
    (
        "u01",
        "excellence",
        "excellence-criteria",
        [3],
        3,
        "卓越绩效模式：从自评价到改进计划",
        "Performance excellence: from self-assessment to action",
        None,
    ),
    (
        "u02",
        "engineering",
        "quality-engineering",
        [6],
        6,
        "实验设计（DOE）入门工作坊",
        "Design of experiments (DOE) workshop",
        30,
    ),
    (
        "u03",
        "on-site",
        "on-site-practice",
        [4],
        10,
        "精益现场改善实战",
        "Lean improvement on the shop floor",
        200,
    ),
    (
        "u04",
        "tqm",
        "tqm-basics",
        [0, 1],
        17,
        "质量文化建设与全员参与",
        "Building a quality culture that involves everyone",
        None,
    ),
]

DESCRIPTIONS = {
    "tqm": "面向企业质量负责人和一线质量工作者，结合复工复产中的实际问题讲解全面质量管理的"
    "思路和方法。课后提供讲义和回放。",
    "excellence": "围绕卓越绩效评价准则，讲解如何用系统的管理框架提升组织绩效，适合企业管理者"
    "和质量奖申报人员。",
    "on-site": "聚焦复工后的生产现场，讲解现场管理的常用方法，帮助班组长和现场管理人员把秩序"
    "和质量稳定下来。",
    "tools": "以企业案例讲解常用质量工具的用途、步骤和注意事项，适合质量改进和 QC 小组成员。",
    "engineering": "介绍质量工程技术的原理与企业应用，适合研发、工艺和质量工程师。",
}

DESCRIPTIONS_EN = {
    "tqm": "For heads of quality and front-line quality staff: the ideas and methods of total "
    "quality management, worked through with the problems companies meet as they restart. "
    "Handouts and a replay follow the session.",
    "excellence": "How the criteria for performance excellence give an organisation a "
    "framework for raising its results; for managers and for teams preparing a quality award "
    "application.",
    "on-site": "The shop floor after the restart: everyday methods of on-site management that "
    "help team leaders and supervisors bring order and steady quality back.",
    "tools": "What the common quality tools are for, how to apply them step by step and what "
    "to watch out for, shown on company cases; for improvement teams and QC circles.",
    "engineering": "The principles of quality engineering techniques and how companies use "
    "them; for engineers in design, process and quality.",
}

# English name line of each lecturer in LECTURERS, in the same order.
LECTURERS_EN = [
    "Liu Jianhua (China Association for Quality)",
    "Chen Xiaomei (CAQ Training Centre)",
    "Wang Zhiqiang (a university school of management)",
    "Zhao Li (a large equipment manufacturer)",
    "Sun Lixin (an automotive parts maker)",
    "Zhou Min (China Association for Quality)",
    "Wu Haitao (an electronics company)",
    "Zheng Xue (a university reliability institute)",
]

PLATFORM = "中国质量协会直播平台"
PLATFORM_EN = "CAQ live-streaming platform"
DEMO_NAMES = [
    "李娜",
    "王磊",
    "张静",
    "刘洋",
    "陈杰",
    "杨帆",
    "黄丽",
    "赵军",
    "周婷",
    "吴刚",
    "徐敏",
    "孙浩",
    "胡燕",
    "朱涛",
    "高霞",
    "林峰",
    "何颖",
    "郭强",
    "马琳",
    "罗斌",
    "梁晨",
    "宋佳",
    "谢鹏",
    "唐雪",
    "韩冰",
    "冯宇",
    "邓超",
    "曹阳",
    "彭丹",
    "曾亮",
    "萧然",
    "田野",
    "董平",
]


def _uid(key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"courses-demo-{key}")


def _at(day: str, start: str) -> datetime:
    naive = datetime.fromisoformat(f"{day}T{start}")
    return timezone.make_aware(naive)


def _upcoming_start(days: int) -> datetime:
    day = timezone.localdate() + timedelta(days=days)
    return timezone.make_aware(datetime.combine(day, time(14, 30)))


def _english_texts(topic: str, who: list[int]) -> dict:
    return {
        "description_en": DESCRIPTIONS_EN[topic],
        "platform_en": PLATFORM_EN,
        "lecturers_en": ", ".join(LECTURERS_EN[i] for i in who),
    }


@transaction.atomic
def seed(stdout, *, accounts) -> None:
    topics = {}
    for order, (slug, name, name_en) in enumerate(TOPICS):
        topics[slug], _ = Topic.objects.get_or_create(
            slug=slug, defaults={"name": name, "name_en": name_en, "order": order}
        )
    for slug, codes in TOPIC_NEEDS.items():
        for code in codes:
            TopicNeed.objects.get_or_create(topic=topics[slug], need_code=code)
    series = {}
    for slug, topic, name, name_en in SERIES:
        series[slug], _ = Series.objects.get_or_create(
            slug=slug, defaults={"name": name, "name_en": name_en, "topic": topics[topic]}
        )
    lecturers = []
    for name, title, organisation, bio in LECTURERS:
        lecturer, _ = Lecturer.objects.get_or_create(
            name=name, organisation=organisation, defaults={"title": title, "bio": bio}
        )
        lecturers.append(lecturer)

    held = []
    for n, (key, topic, serie, who, day, start, title, title_en, count) in enumerate(HELD, 1):
        starts_at = _at(day, start)
        session, created = Session.objects.get_or_create(
            uid=_uid(key),
            defaults={
                "title": title,
                "title_en": title_en,
                "topic": topics[topic],
                "series": series[serie],
                "starts_at": starts_at,
                "ends_at": starts_at + timedelta(minutes=90),
                "platform": PLATFORM,
                "join_url": f"https://live.caq.example.org/room/2020{n:02d}",
                "replay_url": f"https://live.caq.example.org/replay/2020{n:02d}",
                "status": Session.Status.ENDED,
                "description": DESCRIPTIONS[topic],
                **_english_texts(topic, who),
            },
        )
        if created:
            session.lecturers.set([lecturers[i] for i in who])
        elif not session.description_en:
            Session.objects.filter(pk=session.pk).update(**_english_texts(topic, who))
        AttendanceRecord.objects.get_or_create(
            session=session, email="", defaults={"participants": count}
        )
        held.append(session)

    upcoming = []
    for n, (key, topic, serie, who, days, title, title_en, capacity) in enumerate(UPCOMING, 1):
        starts_at = _upcoming_start(days)
        session, created = Session.objects.get_or_create(
            uid=_uid(key),
            defaults={
                "title": title,
                "title_en": title_en,
                "topic": topics[topic],
                "series": series[serie],
                "starts_at": starts_at,
                "ends_at": starts_at + timedelta(minutes=90),
                "platform": PLATFORM,
                "join_url": f"https://live.caq.example.org/room/next{n:02d}",
                "capacity": capacity,
                "description": DESCRIPTIONS[topic],
                **_english_texts(topic, who),
            },
        )
        if created:
            session.lecturers.set([lecturers[i] for i in who])
        elif not session.description_en:
            Session.objects.filter(pk=session.pk).update(**_english_texts(topic, who))
        elif session.ends_at <= timezone.now():
            # A later run of the demo: keep the schedule looking ahead.
            Session.objects.filter(pk=session.pk).update(
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=90),
                status=Session.Status.SCHEDULED,
            )
        upcoming.append(session)

    member = accounts["member"]
    confirmed_at = timezone.now() - timedelta(days=1)
    mine = [held[-1], upcoming[0], upcoming[1]]
    for session in mine:
        Registration.objects.get_or_create(
            session=session,
            email=member.email.lower(),
            defaults={
                "user": member,
                "name": member.get_full_name() or member.email,
                "organisation": "示例制造有限公司",
                "status": Registration.Status.CONFIRMED,
                "position": 1,
                "confirmed_at": confirmed_at,
                "privacy_consent_at": confirmed_at,
            },
        )
    # The workshop is full (30 seats) with three people on the waiting list.
    workshop = upcoming[1]
    for position, name in enumerate(DEMO_NAMES[:32], 2):
        status = Registration.Status.CONFIRMED if position <= 30 else Registration.Status.WAITING
        Registration.objects.get_or_create(
            session=workshop,
            email=f"demo.attendee{position:02d}@example.com",
            defaults={
                "name": name,
                "organisation": "示例企业",
                "status": status,
                "position": position,
                "confirmed_at": confirmed_at if status == Registration.Status.CONFIRMED else None,
                "privacy_consent_at": confirmed_at,
            },
        )
    stdout.write(
        f"  courses: {len(held)} held sessions, {len(upcoming)} upcoming, "
        f"member registered for {len(mine)}"
    )
