"""Reads for the member area and the staff pages."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from cqa_portal.core.localize import in_english, localized
from cqa_portal.core.selectors import audit_history
from cqa_portal.core.validators import uscc_check_ok
from surveys import covid

from .models import (
    CompanyMembership,
    Invitation,
    MemberCompany,
    MembershipApplication,
    MembershipFee,
    ReliefRequest,
)


def relief_requests(*, company: MemberCompany) -> QuerySet[ReliefRequest]:
    return (
        ReliefRequest.objects.filter(company=company)
        .prefetch_related("reasons")
        .order_by("-year", "-created_at")
    )


def member_area(*, company: MemberCompany) -> dict:
    """Everything the member area's overview shows, in a fixed number of queries."""
    users = list(
        CompanyMembership.objects.filter(company=company)
        .select_related("user")
        .order_by("role", "joined_at")
    )
    return {
        "company": company,
        "users": users,
        "invitations": list(
            Invitation.objects.filter(
                company=company, accepted_at__isnull=True, revoked_at__isnull=True
            )
        ),
        "fees": list(MembershipFee.objects.filter(company=company).order_by("-year")),
        "relief_requests": list(relief_requests(company=company)),
        "registrations": course_registrations(user_ids=[m.user_id for m in users]),
        "surveys": open_surveys(company=company),
        "recommended_sessions": recommended_sessions(company=company),
    }


def open_surveys(*, company: MemberCompany) -> list:
    """Surveys open for filing now, with this company's response status (one query)."""
    from django.utils import timezone

    from surveys.models import Survey
    from surveys.selectors import member_surveys

    now = timezone.now()
    return list(
        member_surveys(company=company).filter(
            status=Survey.Status.OPEN, opens_at__lte=now, closes_at__gt=now
        )
    )


def recommended_sessions(*, company: MemberCompany) -> list:
    """Upcoming courses, those on the needs the company reported in the survey first."""
    try:
        from courses.demand import recommended_sessions as upcoming_for
    except ImportError:
        return []
    return upcoming_for(company=company)


def course_registrations(*, user_ids: list[int]) -> list:
    """Courses the company's users registered for (from the courses app, when installed)."""
    try:
        from courses.selectors import registrations_for_users
    except ImportError:
        return []
    return list(registrations_for_users(user_ids=user_ids)[:20])


def relief_request_for_company(*, company: MemberCompany, pk: int) -> ReliefRequest:
    return get_object_or_404(
        ReliefRequest.objects.select_related("company").prefetch_related("reasons", "documents"),
        pk=pk,
        company=company,
    )


def relief_request_page(*, relief: ReliefRequest) -> dict:
    return {
        "relief": relief,
        "fee": MembershipFee.objects.filter(company=relief.company_id, year=relief.year).first(),
        "history": list(audit_history(obj=relief)),
    }


def company_fee_history(*, company_id: int) -> list[MembershipFee]:
    return list(MembershipFee.objects.filter(company_id=company_id).order_by("-year"))


def company_other_requests(*, relief: ReliefRequest) -> list[ReliefRequest]:
    return list(
        ReliefRequest.objects.filter(company_id=relief.company_id)
        .exclude(pk=relief.pk)
        .prefetch_related("reasons")
        .order_by("-year", "-created_at")
    )


def pending_application(*, user) -> MembershipApplication | None:
    return (
        MembershipApplication.objects.filter(applicant=user)
        .select_related("company")
        .order_by("-created_at")
        .first()
    )


def open_invitations_for(*, email: str) -> list[Invitation]:
    return list(
        Invitation.objects.filter(
            email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).select_related("company")
    )


# --- Staff: the relief queue and the cases behind the decision pages -----------------------

SURVEY_CASE_QUESTIONS = (
    covid.IMPACT_QUESTION,
    covid.AREAS_QUESTION,
    covid.RESUMPTION_QUESTION,
    "full_resumption_date",
    covid.STAFF_QUESTION,
)


def _latest_answer(question_code: str, value: str):
    """The company's latest submitted answer to a question (by its stable code), as a
    subquery on a queryset with ``company_id``."""
    from surveys.models import Answer, Response

    return Subquery(
        Answer.objects.filter(
            response__company=OuterRef("company_id"),
            response__status=Response.Status.SUBMITTED,
            question__code=question_code,
            option__isnull=False,
        )
        .order_by("-response__submitted_at", "-response_id")
        .values(value)[:1]
    )


def relief_queue(queryset: QuerySet[ReliefRequest]) -> QuerySet[ReliefRequest]:
    """The relief queue with each company's reported impact and resumption (option codes and
    their order, for sorting) from its latest survey answers: subqueries, one query a page."""
    return queryset.annotate(
        survey_impact=_latest_answer(covid.IMPACT_QUESTION, "option__code"),
        impact_rank=_latest_answer(covid.IMPACT_QUESTION, "option__order"),
        survey_resumption=_latest_answer(covid.RESUMPTION_QUESTION, "option__code"),
        resumption_rank=_latest_answer(covid.RESUMPTION_QUESTION, "option__order"),
    )


def survey_option_choices(question_code: str) -> list[tuple[str, str]]:
    """The options of a question of the shipped impact survey, in the visitor's language."""
    for question in covid.QUESTIONS:
        if question["code"] == question_code:
            english = in_english()
            return [(o[0], o[2] if english and o[2] else o[1]) for o in question["options"]]
    return []


def survey_option_label(question_code: str, option_code: str | None) -> str:
    return dict(survey_option_choices(question_code)).get(option_code, option_code or "")


def company_survey_answers(*, company_id: int) -> dict | None:
    """The company's latest submitted impact-survey response and its answers on impact and
    resumption (two queries), or None."""
    from surveys.models import Answer, Response

    response = (
        Response.objects.filter(
            company_id=company_id,
            status=Response.Status.SUBMITTED,
            answers__question__code=covid.IMPACT_QUESTION,
        )
        .select_related("survey")
        .order_by("-submitted_at", "-pk")
        .first()
    )
    if response is None:
        return None
    answers = (
        Answer.objects.filter(response=response, question__code__in=SURVEY_CASE_QUESTIONS)
        .select_related("question", "option")
        .order_by("question__order", "question_id", "option__order")
    )
    rows: dict[int, dict] = {}
    for answer in answers:
        row = rows.setdefault(
            answer.question_id,
            {
                "code": answer.question.code,
                "question": localized(answer.question, "text"),
                "values": [],
            },
        )
        if answer.option_id:
            option = answer.option
            label = option.label_en if in_english() and option.label_en else option.label_zh
            row["values"].append(f"{label}（{answer.text}）" if answer.text else label)
        elif answer.number is not None:
            row["values"].append(f"{answer.number.normalize():f}")
        elif answer.date:
            row["values"].append(answer.date.isoformat())
        elif answer.text:
            row["values"].append(answer.text)
    return {"response": response, "answers": list(rows.values())}


def relief_case(*, relief: ReliefRequest) -> dict:
    """Everything the relief decision page shows: the request, its documents and reasons, the
    company, the fee and what is still due, earlier requests, the fee history with payments and
    the company's survey answers on impact and resumption (a fixed number of queries)."""
    fees = list(
        MembershipFee.objects.filter(company_id=relief.company_id)
        .prefetch_related("payments")
        .order_by("-year")
    )
    return {
        "relief": relief,
        "company": relief.company,
        "reasons": list(relief.reasons.all()),
        "documents": list(relief.documents.all()),
        "fee": next((f for f in fees if f.year == relief.year), None),
        "fees": fees,
        "earlier": company_other_requests(relief=relief),
        "survey": company_survey_answers(company_id=relief.company_id),
    }


def application_case(*, application: MembershipApplication) -> dict:
    """The application decision page: every field the applicant gave, the credit-code check and
    the contact."""
    company = application.company
    fields = [
        MemberCompany._meta.get_field(name)
        for name in (
            "name", "name_en", "uscc", "province", "industry_section", "industry_division",
            "size_band", "level", "address", "postal_code", "contact_name", "contact_phone",
            "contact_email",
        )
    ]  # fmt: skip
    rows = []
    for field in fields:
        if field.choices:
            value = getattr(company, f"get_{field.name}_display")()
        else:
            value = getattr(company, field.name)
        rows.append((field.verbose_name, value if value not in ("", None) else "—"))
    return {
        "application": application,
        "company": company,
        "rows": rows,
        "uscc_check_ok": uscc_check_ok(company.uscc),
        "applicant": application.applicant,
    }
