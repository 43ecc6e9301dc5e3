"""Needs drive courses: the survey's needs question (``surveys.covid.NEEDS_QUESTION``) mapped
to course topics by ``TopicNeed`` (topic ↔ option code of that question).

- ``recommended_sessions(company=...)``: upcoming sessions, those on topics that answer a need
  the company reported first (one query, whatever the number of sessions or answers).
- ``demand_by_topic()``: for staff, per topic, the share of responding companies that reported a
  need the topic answers, overall and by region group, beside the sessions planned and held per
  topic (four queries, whatever the number of responses).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from cqa_portal.core.numbers import exact_percent
from cqa_portal.core.reference import RegionGroup

from .models import Session, Topic, TopicNeed

RECOMMENDED_LIMIT = 6


def _needs_answers():
    from surveys import covid
    from surveys.models import Answer, Response

    return Answer.objects.filter(
        question__code=covid.NEEDS_QUESTION, response__status=Response.Status.SUBMITTED
    )


def recommended_sessions(*, company, now=None, limit: int = RECOMMENDED_LIMIT) -> list[Session]:
    """Upcoming, open sessions; those whose topic answers a need the company reported come
    first (``matches_needs``), then by start time."""
    now = now or timezone.now()
    reported = _needs_answers().filter(response__company=company).values("option__code")
    matches = TopicNeed.objects.filter(topic=OuterRef("topic"), need_code__in=reported)
    return list(
        Session.objects.filter(status=Session.Status.SCHEDULED, ends_at__gt=now)
        .select_related("topic")
        .annotate(matches_needs=Exists(matches))
        .order_by("-matches_needs", "starts_at", "pk")[:limit]
    )


_pct = exact_percent  # half up on the exact fraction (core.numbers)


@dataclass
class TopicDemand:
    topic: Topic
    needs: list[str]
    companies: int
    pct: Decimal | None
    by_region: list[dict]
    planned: int
    held: int


def demand_by_topic(*, now=None) -> dict:
    """Demand per topic from the latest survey with a needs question, with sessions per topic."""
    from surveys import covid
    from surveys.models import Response, Survey

    now = now or timezone.now()
    survey = (
        Survey.objects.exclude(status=Survey.Status.DRAFT)
        .filter(questions__code=covid.NEEDS_QUESTION)
        .order_by("-opens_at", "-pk")
        .first()
    )
    upcoming = Q(sessions__status=Session.Status.SCHEDULED, sessions__ends_at__gt=now)
    held = (Q(sessions__ends_at__lte=now) | Q(sessions__status=Session.Status.ENDED)) & ~Q(
        sessions__status=Session.Status.CANCELLED
    )
    topics = list(
        Topic.objects.annotate(
            planned=Count("sessions", filter=upcoming), held=Count("sessions", filter=held)
        )
        .prefetch_related("needs")
        .order_by("order", "name")
    )
    counts: dict[str, dict] = {}
    if survey is not None:
        columns = {
            f"topic_{topic.pk}": Count(
                "pk",
                filter=Q(
                    Exists(
                        _needs_answers().filter(
                            response=OuterRef("pk"),
                            option__code__in=[n.need_code for n in topic.needs.all()],
                        )
                    )
                ),
            )
            for topic in topics
            if topic.needs.all()
        }
        rows = (
            Response.objects.filter(survey=survey, status=Response.Status.SUBMITTED)
            .order_by()
            .values("region_group")
            .annotate(responses=Count("pk"), **columns)
        )
        counts = {row["region_group"] or "": row for row in rows}
    regions = sorted(counts, key=lambda g: (-counts[g]["responses"], g))
    total = sum(counts[g]["responses"] for g in regions)
    result = []
    for topic in topics:
        key = f"topic_{topic.pk}"
        mapped = [n.get_need_code_display() for n in topic.needs.all()]
        companies = sum(counts[g].get(key, 0) for g in regions) if mapped else 0
        result.append(
            TopicDemand(
                topic=topic,
                needs=mapped,
                companies=companies,
                pct=_pct(companies, total) if mapped else None,
                by_region=[
                    {
                        "group": g,
                        "count": counts[g].get(key, 0),
                        "pct": _pct(counts[g].get(key, 0), counts[g]["responses"])
                        if mapped
                        else None,
                    }
                    for g in regions
                ],
                planned=topic.planned,
                held=topic.held,
            )
        )
    return {
        "survey": survey,
        "responses": total,
        "regions": [
            {"group": g, "label": region_label(g), "responses": counts[g]["responses"]}
            for g in regions
        ],
        "topics": result,
    }


def region_label(group: str) -> str:
    try:
        return str(RegionGroup(group).label)
    except ValueError:
        return group or "–"
