"""Reads for the survey pages, each in a fixed number of queries."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404

from members.models import MemberCompany

from .models import Answer, Question, Response, SummarySnapshot, Survey


def questions_of(survey: Survey) -> list[Question]:
    """The survey's questions in order, with their options and conditions (3 queries)."""
    return list(
        survey.questions.order_by("order", "pk").prefetch_related("options", "condition_options")
    )


def survey_for_members(slug: str) -> Survey:
    """An open or closed survey (drafts are not visible to members)."""
    survey = Survey.objects.filter(slug=slug).exclude(status=Survey.Status.DRAFT).first()
    if survey is None:
        raise Http404
    return survey


def company_response(*, survey: Survey, company: MemberCompany) -> Response | None:
    return Response.objects.filter(survey=survey, company=company).first()


def response_answers(response: Response | None) -> list[Answer]:
    if response is None:
        return []
    return list(
        Answer.objects.filter(response=response)
        .select_related("option")
        .order_by("question__order", "question_id", "option__order")
    )


def answers_by_question(questions: list[Question], answers: list[Answer]) -> list[dict]:
    """For showing a response: each answered question with its answer in words."""
    grouped: dict[int, list[Answer]] = {}
    for answer in answers:
        grouped.setdefault(answer.question_id, []).append(answer)
    shown = []
    for question in questions:
        rows = grouped.get(question.pk)
        if not rows:
            continue
        if question.is_choice:
            values = [
                f"{r.option.label}: {r.text}" if r.option.is_other and r.text else r.option.label
                for r in rows
            ]
        elif question.kind == Question.Kind.NUMBER:
            values = [f"{rows[0].number.normalize():f}"]
        elif question.kind == Question.Kind.DATE:
            values = [rows[0].date.isoformat()]
        else:
            values = [rows[0].text]
        shown.append({"question": question, "values": values})
    return shown


def member_surveys(*, company: MemberCompany) -> QuerySet[Survey]:
    """Open and closed surveys with this company's response status."""
    own = Response.objects.filter(survey=OuterRef("pk"), company=company)
    return (
        Survey.objects.exclude(status=Survey.Status.DRAFT)
        .annotate(
            own_status=Subquery(own.values("status")[:1]),
            own_response_id=Subquery(own.values("pk")[:1]),
        )
        .order_by("-opens_at", "pk")
    )


def latest_snapshot(survey: Survey) -> SummarySnapshot | None:
    return SummarySnapshot.objects.filter(survey=survey).order_by("-created_at", "-pk").first()


def published_surveys() -> list[Survey]:
    """Surveys whose findings are public, newest first."""
    return list(
        Survey.objects.filter(results_published=True)
        .exclude(status=Survey.Status.DRAFT)
        .order_by("-opens_at", "pk")
    )


def reminders_sent(survey: Survey) -> list[tuple[str, int, int]]:
    """(step, companies, mails) of the reminders written for ``survey``, read from the outbox
    (its keys are the ledger), one query."""
    from cqa_portal.core.models import OutboxMessage

    prefix = f"surveys.reminder:{survey.pk}:"
    companies: dict[str, set[str]] = {}
    mails: dict[str, int] = {}
    for key in OutboxMessage.objects.filter(key__startswith=prefix).values_list("key", flat=True):
        company, step = key[len(prefix) :].split(":", 2)[:2]
        companies.setdefault(step, set()).add(company)
        mails[step] = mails.get(step, 0) + 1
    return [(step, len(companies[step]), mails[step]) for step in sorted(mails)]
