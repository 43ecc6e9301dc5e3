"""The COVID-19 impact survey of member enterprises (February–March 2020), as plain data.

The data migration that ships the survey and ``surveys.demo`` both read this module, so it must
not import models. The codes below are also what the key findings look for: another survey that
keeps these question and option codes gets the same headline figures.
"""

SLUG = "covid-impact-2020"

IMPACT_QUESTION = "impact_degree"
IMPACT_NONE = "none"
IMPACT_SERIOUS = ("moderate", "severe")
RESUMPTION_QUESTION = "resumption"
RESUMED_FULLY = "full"
RESUMED_PARTLY = "partly"
NOT_RESUMED = "not_resumed"
AREAS_QUESTION = "impact_areas"
NEEDS_QUESTION = "needs"
STAFF_QUESTION = "staff_back_pct"

SURVEY = {
    "slug": SLUG,
    "title": "新冠肺炎疫情对会员企业影响调研",
    "title_en": "Survey of the COVID-19 epidemic's impact on member enterprises",
    "description": (
        "为掌握会员企业受疫情影响的情况、复工复产进度和当前需求，协会面向全体会员企业开展本次"
        "调研。每家会员企业填写一份，单位内任何已登记的用户均可填写，截止前可随时修改。"
        "汇总结果只公布统计数字，不会公开任何企业的名称或答案。"
    ),
    "description_en": (
        "The association asks every member enterprise how the epidemic has affected it, how far "
        "it has resumed work and production, and what support it needs now. Each member files "
        "one response; any registered user of the company may fill it in and change it until "
        "the survey closes. Only aggregate figures are published, never a company's name or "
        "answers."
    ),
    "reminder_days": "7,2",
}

# (code, kind, required, text, text_en, extra)
QUESTIONS = [
    {
        "code": IMPACT_QUESTION,
        "kind": "single",
        "required": True,
        "text": "疫情对贵单位生产经营的影响程度如何？",
        "text_en": "How much has the epidemic affected your company's operations?",
        "options": [
            ("none", "基本无影响", "Not affected", False),
            ("slight", "轻微影响", "Slightly affected", False),
            ("moderate", "较大影响", "Moderately affected", False),
            ("severe", "严重影响", "Severely affected", False),
        ],
    },
    {
        "code": AREAS_QUESTION,
        "kind": "multiple",
        "required": True,
        "text": "影响主要体现在哪些方面？（可多选）",
        "text_en": "Where does the impact show? (choose all that apply)",
        "condition": (IMPACT_QUESTION, ["slight", "moderate", "severe"]),
        "options": [
            ("staff_returning", "人员到岗", "Staff returning to their posts", False),
            ("manufacturing", "生产制造", "Manufacturing", False),
            ("sales", "销售", "Sales", False),
            ("construction", "现场及外部施工", "On-site and external construction", False),
            ("raw_materials", "原材料供应", "Raw-material supply", False),
            ("costs", "成本上升", "Costs", False),
            ("other", "其他（请说明）", "Other (please specify)", True),
        ],
    },
    {
        "code": RESUMPTION_QUESTION,
        "kind": "single",
        "required": True,
        "text": "贵单位目前的复工复产情况如何？",
        "text_en": "How far has your company resumed work and production?",
        "help_text": "部分复工指生产经营尚未达到或接近节前水平。",
        "help_text_en": "Partly resumed means output is not yet at or near the pre-holiday level.",
        "options": [
            (RESUMED_FULLY, "已完全复工", "Fully resumed", False),
            (
                RESUMED_PARTLY,
                "部分复工（未达到节前水平）",
                "Partly resumed (below the pre-holiday level)",
                False,
            ),
            (NOT_RESUMED, "尚未复工", "Not resumed", False),
        ],
    },  # fmt: skip
    {
        "code": "full_resumption_date",
        "kind": "date",
        "required": False,
        "text": "预计何时全面复工？",
        "text_en": "When do you expect to resume work fully?",
        "condition": (RESUMPTION_QUESTION, [RESUMED_PARTLY, NOT_RESUMED]),
    },
    {
        "code": STAFF_QUESTION,
        "kind": "number",
        "required": True,
        "text": "目前到岗员工占全部员工的比例（%）",
        "text_en": "Share of staff back at work (%)",
        "help_text": "填写 0 到 100 之间的整数。",
        "help_text_en": "A whole number from 0 to 100.",
        "min_value": "0",
        "max_value": "100",
    },
    {
        "code": NEEDS_QUESTION,
        "kind": "multiple",
        "required": True,
        "text": "贵单位当前最需要协会提供哪些支持？（可多选）",
        "text_en": "What support does your company need most now? (choose all that apply)",
        "options": [
            (
                "training",
                "质量管理工具方法学习与培训",
                "Training in quality-management tools and methods",
                False,
            ),
            (
                "policies",
                "政府和行业的支持性政策",
                "Supportive government and industry policies",
                False,
            ),
            (
                "publicity",
                "企业抗击疫情工作的宣传",
                "Publicity for the company's anti-epidemic work",
                False,
            ),
            ("other", "其他（请说明）", "Other (please specify)", True),
        ],
    },  # fmt: skip
    {
        "code": "comments",
        "kind": "long_text",
        "required": False,
        "text": "其他意见和建议",
        "text_en": "Other comments and suggestions",
    },
]


def install(
    survey_model,
    question_model,
    option_model,
    *,
    opens_at,
    closes_at,
    status="open",
    slug=SLUG,
):
    """Create the survey with its questions from the data above; returns the survey.

    Takes the model classes so the data migration can pass its historical models.
    """
    survey = survey_model.objects.create(
        opens_at=opens_at, closes_at=closes_at, status=status, **{**SURVEY, "slug": slug}
    )
    by_code = {}
    for order, spec in enumerate(QUESTIONS, start=1):
        question = question_model.objects.create(
            survey=survey,
            order=order * 10,
            code=spec["code"],
            kind=spec["kind"],
            required=spec["required"],
            text=spec["text"],
            text_en=spec["text_en"],
            help_text=spec.get("help_text", ""),
            help_text_en=spec.get("help_text_en", ""),
            min_value=spec.get("min_value"),
            max_value=spec.get("max_value"),
        )
        options = {}
        for option_order, (code, label, label_en, is_other) in enumerate(
            spec.get("options", []), start=1
        ):
            options[code] = option_model.objects.create(
                question=question,
                order=option_order,
                code=code,
                label_zh=label,
                label_en=label_en,
                is_other=is_other,
            )
        by_code[spec["code"]] = (question, options)
        if "condition" in spec:
            parent_code, option_codes = spec["condition"]
            parent, parent_options = by_code[parent_code]
            question.condition_question = parent
            question.save(update_fields=["condition_question"])
            question.condition_options.set([parent_options[c] for c in option_codes])
    return survey
