"""Reads for the member area and the staff pages."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from cqa_portal.core.selectors import audit_history

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
