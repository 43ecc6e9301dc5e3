"""Writes for member companies: applications, profile edits, imports and status changes."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from cqa_portal.core import mail
from cqa_portal.core.errors import PortalError
from cqa_portal.core.models import StaffNoticeKind
from cqa_portal.core.services import (
    audit_entry,
    audit_log,
    audit_log_many,
    audit_log_select,
    staff_notice_record,
)
from cqa_portal.core.site import absolute_url
from cqa_portal.core.validators import normalize_uscc, uscc_check_ok

from ..models import CompanyMembership, MemberCompany, MembershipApplication
from .mail import _mail


def company_prepare(company: MemberCompany) -> MemberCompany:
    """Normalise the credit code and flag a check-character failure for staff review."""
    company.uscc = normalize_uscc(company.uscc)
    company.uscc_needs_review = not uscc_check_ok(company.uscc)
    return company


@transaction.atomic
def membership_apply(*, user, company: MemberCompany, message: str = "") -> MembershipApplication:
    """A signed-up user with no company applies for membership with the company's details.

    ``company`` is an unsaved, validated instance (from the application form). If the code
    belongs to an earlier rejected applicant, its record is updated instead of duplicated.
    """
    if CompanyMembership.objects.filter(user=user).exists():
        raise PortalError(_("Your account already belongs to a member company."))
    company_prepare(company)
    existing = MemberCompany.objects.select_for_update().filter(uscc=company.uscc).first()
    if existing is not None:
        if (
            existing.status != MemberCompany.Status.APPLICANT
            or existing.applications.filter(status=MembershipApplication.Status.PENDING).exists()
        ):
            raise PortalError(
                _(
                    "A company with this credit code is already registered or has an application "
                    "under review. Ask its administrator to invite you, or contact the association."
                )
            )
        company.pk = existing.pk
        company.created_at = existing.created_at
    company.status = MemberCompany.Status.APPLICANT
    company.save()
    application = MembershipApplication.objects.create(
        applicant=user, company=company, message=message
    )
    audit_log(
        actor=user,
        action="members.application.submitted",
        obj=application,
        to_state=application.status,
    )
    staff_notice_record(kind=StaffNoticeKind.MEMBERSHIP_APPLICATION, obj=application)
    return application


@transaction.atomic
def membership_application_decide(
    *, application: MembershipApplication, actor, approve: bool, note: str = ""
) -> MembershipApplication:
    application = MembershipApplication.objects.select_for_update().get(pk=application.pk)
    if application.status != MembershipApplication.Status.PENDING:
        raise PortalError(_("This application has already been decided."))
    if not approve and not note.strip():
        raise PortalError(_("Please give the reason for the rejection."))
    company = MemberCompany.objects.select_for_update().get(pk=application.company_id)
    application.status = (
        MembershipApplication.Status.APPROVED if approve else MembershipApplication.Status.REJECTED
    )
    application.decision_note = note.strip()
    application.decided_by = actor
    application.decided_at = timezone.now()
    application.save()
    if approve:
        if CompanyMembership.objects.filter(user=application.applicant).exists():
            raise PortalError(_("The applicant already belongs to another company."))
        old_status = company.status
        company.status = MemberCompany.Status.ACTIVE
        company.member_since = company.member_since or timezone.localdate()
        company.save(update_fields=["status", "member_since", "updated_at"])
        CompanyMembership.objects.create(
            user=application.applicant, company=company, role=CompanyMembership.Role.ADMIN
        )
        audit_log(
            actor=actor,
            action="members.company.activated",
            obj=company,
            from_state=old_status,
            to_state=company.status,
            detail=note,
        )
    audit_log(
        actor=actor,
        action=f"members.application.{application.status}",
        obj=application,
        from_state=MembershipApplication.Status.PENDING,
        to_state=application.status,
        detail=note,
    )
    _mail(
        key=f"members.application_decision:{application.pk}:{application.applicant.email}",
        purpose="members.application_decision",
        to=application.applicant.email,
        lang=mail.user_language(application.applicant),
        template="application_decision",
        context={"application": application, "company": company, "url": absolute_url("/members/")},
    )
    return application


@transaction.atomic
def company_update(*, company: MemberCompany, actor, changed_fields: Iterable[str]) -> None:
    """Save a company edited by its administrator (the form excludes code and status) or by
    staff in the admin. A changed status is logged from and to, as ``company_status_change``
    does; becoming active without a member-since date starts membership today."""
    changed = sorted(set(changed_fields) - {"status"})
    old_status = (
        MemberCompany.objects.select_for_update()
        .filter(pk=company.pk)
        .values_list("status", flat=True)
        .first()
        if company.pk
        else None
    )
    if (
        company.status != old_status
        and company.status == MemberCompany.Status.ACTIVE
        and not company.member_since
    ):
        company.member_since = timezone.localdate()
    company.save()
    if changed:
        audit_log(
            actor=actor,
            action="members.company.updated",
            obj=company,
            detail=", ".join(changed),
        )
    if company.status != old_status:
        audit_log(
            actor=actor,
            action=f"members.company.{company.status}",
            obj=company,
            from_state=old_status or "",
            to_state=company.status,
        )


def company_import_prepare(company: MemberCompany, *, old_status: str | None) -> None:
    """Before a company row of an import is saved: the same normalisation as the forms, and
    membership starting today when the row makes the company active without a date."""
    company_prepare(company)
    if (
        company.status != old_status
        and company.status == MemberCompany.Status.ACTIVE
        and not company.member_since
    ):
        company.member_since = timezone.localdate()


@transaction.atomic
def companies_import_record(*, companies: Iterable[tuple[MemberCompany, str | None]], actor) -> int:
    """Log an import's companies once they are saved (in bulk): each new company with the
    status it starts in, each changed status from and to, other updates as updates. ``companies``
    are (company, status before the import or None for a new one). Set-based: no query per
    company."""
    reason = _("Spreadsheet import")
    entries = []
    new_ids = []
    for company, old_status in companies:
        if old_status is None:
            new_ids.append(company.pk)
        elif old_status != company.status:
            entries.append(
                audit_entry(
                    actor=actor,
                    action=f"members.company.{company.status}",
                    obj=company,
                    from_state=old_status,
                    to_state=company.status,
                    detail=reason,
                )
            )
        else:
            entries.append(
                audit_entry(
                    actor=actor, action="members.company.updated", obj=company, detail=reason
                )
            )
    count = audit_log_many(entries=entries)
    if new_ids:  # an import of new companies can be 10,000 rows: one INSERT ... SELECT
        count += audit_log_select(
            queryset=MemberCompany.objects.filter(pk__in=new_ids),
            actor=actor,
            action="members.company.imported",
            object_repr=F("name"),
            to_state=F("status"),
            detail=reason,
        )
    return count


@transaction.atomic
def company_status_change(*, company: MemberCompany, actor, status: str, note: str = "") -> bool:
    company = MemberCompany.objects.select_for_update().get(pk=company.pk)
    if company.status == status:
        return False
    old = company.status
    company.status = status
    if status == MemberCompany.Status.ACTIVE and not company.member_since:
        company.member_since = timezone.localdate()
    company.save(update_fields=["status", "member_since", "updated_at"])
    audit_log(
        actor=actor,
        action=f"members.company.{status}",
        obj=company,
        from_state=old,
        to_state=status,
        detail=note,
    )
    return True
