"""Does fee relief reach the hardest hit? For staff: by province, industry section and company
size, the share of active member companies that reported being moderately or severely affected
in the survey, beside the share that asked for relief for a fee year, the share of requests
granted and the amounts.

All in SQL: per dimension one GROUP BY over member companies (with EXISTS subqueries for the
survey answer and the relief request) and one over relief requests (amounts). Eight queries in
all, whatever the number of companies. Staff only, so small groups are shown with their counts
and marked (``small``) when fewer than ``MIN_PUBLIC_GROUP`` companies responded: such rows must
not be published.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, Exists, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from cqa_portal.core.localize import in_english
from cqa_portal.core.numbers import exact_percent
from cqa_portal.core.reference import INDUSTRY_NAMES_ZH, IndustrySection, Province
from members.models import MemberCompany, MembershipFee, ReliefRequest

from . import covid
from .models import Answer, Response, Survey
from .summary import MIN_PUBLIC_GROUP

DIMENSIONS = {"province": "province", "industry": "industry_section", "size": "size_band"}
ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=14, decimal_places=2)


_pct = exact_percent  # half up on the exact fraction (core.numbers)


def fairness_survey() -> Survey | None:
    """The latest survey (not a draft) that asks the impact question."""
    return (
        Survey.objects.exclude(status=Survey.Status.DRAFT)
        .filter(questions__code=covid.IMPACT_QUESTION)
        .order_by("-opens_at", "-pk")
        .first()
    )


def fee_years() -> list[int]:
    return list(MembershipFee.objects.order_by("-year").values_list("year", flat=True).distinct())


def dimension_label(dimension: str) -> str:
    return {
        "province": _("Province"),
        "industry": _("Industry section"),
        "size": _("Company size"),
    }[dimension]


def group_label(dimension: str, group: str) -> str:
    if dimension == "province":
        return str(Province(group).label) if group in Province.values else group
    if dimension == "industry":
        if not in_english() and group in INDUSTRY_NAMES_ZH:
            return f"{group} {INDUSTRY_NAMES_ZH[group]}"
        if group in IndustrySection.values:
            return f"{group} {IndustrySection(group).label}"
        return group
    sizes = dict(MemberCompany.SizeBand.choices)
    return str(sizes.get(group, group))


@dataclass
class FairnessTable:
    dimension: str
    label: str
    rows: list[dict]
    total: dict


def _company_figures(survey: Survey | None, year: int, column: str):
    companies = MemberCompany.objects.filter(status=MemberCompany.Status.ACTIVE)
    submitted = Response.objects.filter(
        company=OuterRef("pk"), status=Response.Status.SUBMITTED, survey=survey
    )
    serious = Answer.objects.filter(
        response__company=OuterRef("pk"),
        response__status=Response.Status.SUBMITTED,
        response__survey=survey,
        question__code=covid.IMPACT_QUESTION,
        option__code__in=covid.IMPACT_SERIOUS,
    )
    requests = ReliefRequest.objects.filter(
        company=OuterRef("pk"), year=year, submitted_at__isnull=False
    )
    granted = requests.filter(status__in=ReliefRequest.GRANTED_STATUSES)
    return (
        companies.annotate(
            responded=Exists(submitted),
            serious=Exists(serious),
            requested=Exists(requests),
            granted=Exists(granted),
        )
        .order_by()
        .values(column)
        .annotate(
            members=Count("pk"),
            n_responded=Count("pk", filter=Q(responded=True)),
            n_serious=Count("pk", filter=Q(serious=True)),
            n_requested=Count("pk", filter=Q(requested=True)),
            n_serious_requested=Count("pk", filter=Q(serious=True, requested=True)),
            n_granted=Count("pk", filter=Q(granted=True)),
            n_serious_granted=Count("pk", filter=Q(serious=True, granted=True)),
        )
    )


def _amounts(year: int, column: str) -> dict[str, dict]:
    fee_due = Subquery(
        MembershipFee.objects.filter(company=OuterRef("company"), year=OuterRef("year")).values(
            "amount_due"
        )[:1],
        output_field=MONEY,
    )
    rows = (
        ReliefRequest.objects.filter(
            year=year,
            submitted_at__isnull=False,
            company__status=MemberCompany.Status.ACTIVE,
        )
        .annotate(fee_due=fee_due)
        .order_by()
        .values(f"company__{column}")
        .annotate(
            asked_reductions=Coalesce(
                Sum("requested_amount", filter=Q(kind=ReliefRequest.Kind.REDUCTION)),
                ZERO,
                output_field=MONEY,
            ),
            asked_waivers=Coalesce(
                Sum("fee_due", filter=Q(kind=ReliefRequest.Kind.WAIVER)), ZERO, output_field=MONEY
            ),
            granted_amount=Coalesce(
                Sum("granted_amount", filter=Q(status__in=ReliefRequest.GRANTED_STATUSES)),
                ZERO,
                output_field=MONEY,
            ),
        )
    )
    return {
        row[f"company__{column}"]: {
            "asked": row["asked_reductions"] + row["asked_waivers"],
            "granted_amount": row["granted_amount"],
        }
        for row in rows
    }


def _row(group: str, figures: dict, amounts: dict) -> dict:
    return {
        "group": group,
        "members": figures["members"],
        "responded": figures["n_responded"],
        "serious": figures["n_serious"],
        "serious_pct": _pct(figures["n_serious"], figures["n_responded"]),
        "requested": figures["n_requested"],
        "requested_pct": _pct(figures["n_requested"], figures["members"]),
        "serious_requested_pct": _pct(figures["n_serious_requested"], figures["n_serious"]),
        "granted": figures["n_granted"],
        "granted_pct": _pct(figures["n_granted"], figures["n_requested"]),
        "serious_granted_pct": _pct(figures["n_serious_granted"], figures["n_serious"]),
        "asked": amounts.get("asked", ZERO),
        "granted_amount": amounts.get("granted_amount", ZERO),
        "small": figures["n_responded"] < MIN_PUBLIC_GROUP,
    }


def fairness_tables(*, survey: Survey | None, year: int) -> list[FairnessTable]:
    """One table per dimension, hardest hit first, with a total row."""
    tables = []
    for dimension, column in DIMENSIONS.items():
        amounts = _amounts(year, column)
        rows, totals = [], {}
        for figures in _company_figures(survey, year, column):
            group = figures[column] or ""
            for key, value in figures.items():
                if key != column:
                    totals[key] = totals.get(key, 0) + value
            row = _row(group, figures, amounts.get(group, {}))
            row["label"] = group_label(dimension, group) if group else _("(not given)")
            rows.append(row)
        rows.sort(key=lambda r: (-(r["serious_pct"] or 0), -r["responded"], r["group"]))
        total_amounts = {
            "asked": sum((a["asked"] for a in amounts.values()), ZERO),
            "granted_amount": sum((a["granted_amount"] for a in amounts.values()), ZERO),
        }
        total = _row("", totals, total_amounts) if totals else None
        tables.append(
            FairnessTable(
                dimension=dimension, label=dimension_label(dimension), rows=rows, total=total
            )
        )
    return tables
