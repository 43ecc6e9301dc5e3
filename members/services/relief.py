"""Writes for fee-relief requests: drafts, documents, submission, review and decisions."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cqa_portal.core.errors import PortalError
from cqa_portal.core.models import StaffNoticeKind
from cqa_portal.core.services import audit_log, staff_notice_record
from cqa_portal.core.site import absolute_url

from ..models import MemberCompany, MembershipFee, ReliefDocument, ReliefRequest
from ..uploads import check_upload
from .fees import ZERO, _fee_set_status
from .mail import _mail, company_admin_recipients


def _relief_check(relief: ReliefRequest, fee: MembershipFee | None) -> None:
    """Business rules shared by saving a draft and submitting."""
    errors: dict[str, list[str]] = {}
    if fee is None:
        errors["year"] = [_("Your company has no membership fee for this year.")]
    elif relief.kind == ReliefRequest.Kind.REDUCTION:
        if relief.requested_amount is None:
            errors["requested_amount"] = [_("Enter the reduction you ask for.")]
        elif relief.requested_amount <= ZERO:
            errors["requested_amount"] = [_("The amount must be greater than zero.")]
        elif relief.requested_amount > fee.amount_due - fee.amount_paid:
            errors["requested_amount"] = [
                _("The reduction cannot exceed the %(amount)s CNY still to pay.")
                % {"amount": fee.amount_due - fee.amount_paid}
            ]
    elif relief.kind == ReliefRequest.Kind.DEFERRAL:
        if relief.deferral_until is None:
            errors["deferral_until"] = [_("Enter the date you ask to pay by.")]
        elif relief.deferral_until <= fee.due_date:
            errors["deferral_until"] = [
                _("The new date must be after the current due date, %(date)s.")
                % {"date": fee.due_date.isoformat()}
            ]
    if fee is not None and fee.status in (MembershipFee.Status.PAID, MembershipFee.Status.WAIVED):
        errors.setdefault("year", []).append(_("This year's fee is already settled."))
    if errors:
        raise ValidationError(errors)


def _company_fee(company: MemberCompany, year: int) -> MembershipFee | None:
    return MembershipFee.objects.filter(company=company, year=year).first()


@transaction.atomic
def relief_request_save(
    *,
    relief: ReliefRequest,
    reasons: Iterable,
    files: Iterable = (),
    actor,
    submit: bool = False,
) -> ReliefRequest:
    """Create or update a draft (with new documents) and optionally submit it, all or nothing."""
    if relief.pk and relief.status != ReliefRequest.Status.DRAFT:
        raise PortalError(_("Only a draft can be changed."))
    _relief_check(relief, _company_fee(relief.company, relief.year))
    if relief.kind != ReliefRequest.Kind.REDUCTION:
        relief.requested_amount = None
    if relief.kind != ReliefRequest.Kind.DEFERRAL:
        relief.deferral_until = None
    creating = relief.pk is None
    if creating:
        relief.created_by = actor
        relief.status = ReliefRequest.Status.DRAFT
    try:
        with transaction.atomic():
            relief.save()
    except IntegrityError:
        raise ValidationError(
            {"year": [_("Your company already has an open relief request for this year.")]}
        ) from None
    relief.reasons.set(list(reasons))
    written: list[ReliefDocument] = []
    try:
        for upload in files:
            written.append(relief_document_add(relief=relief, upload=upload, actor=actor))
        if creating:
            audit_log(
                actor=actor, action="members.relief.draft", obj=relief, to_state=relief.status
            )
        if submit:
            relief_request_submit(relief=relief, actor=actor)
    except BaseException:
        # Rolled back: the files written for it go too (a killed process leaves them to
        # ``manage.py remove_orphan_files``).
        for document in written:
            document.file.storage.delete(document.file.name)
        raise
    return relief


@transaction.atomic
def relief_document_add(*, relief: ReliefRequest, upload, actor) -> ReliefDocument:
    content_type = check_upload(upload)
    document = ReliefDocument(
        request=relief,
        original_name=upload.name[:255],
        content_type=content_type,
        size=upload.size,
        uploaded_by=actor,
    )
    document.file.save(upload.name, upload, save=False)
    try:
        document.save()
    except BaseException:
        document.file.storage.delete(document.file.name)
        raise
    return document


def _relief_transition(
    relief: ReliefRequest, *, to: str, actor, note: str = "", allowed: Iterable[str]
) -> ReliefRequest:
    relief = ReliefRequest.objects.select_for_update().get(pk=relief.pk)
    if relief.status not in allowed:
        raise PortalError(
            _("A request that is %(status)s cannot be changed this way.")
            % {"status": relief.get_status_display()}
        )
    old = relief.status
    relief.status = to
    if to == ReliefRequest.Status.SUBMITTED:
        relief.submitted_at = timezone.now()
    relief.save()
    audit_log(
        actor=actor,
        action=f"members.relief.{to}",
        obj=relief,
        from_state=old,
        to_state=to,
        detail=note,
    )
    return relief


@transaction.atomic
def relief_request_submit(*, relief: ReliefRequest, actor) -> ReliefRequest:
    _relief_check(relief, _company_fee(relief.company, relief.year))
    if not relief.reasons.exists():
        raise ValidationError({"reasons": [_("Choose at least one reason.")]})
    relief = _relief_transition(
        relief,
        to=ReliefRequest.Status.SUBMITTED,
        actor=actor,
        allowed=[ReliefRequest.Status.DRAFT],
    )
    staff_notice_record(kind=StaffNoticeKind.RELIEF_REQUEST, obj=relief)
    for email, lang in company_admin_recipients(relief.company):
        _mail(
            key=f"members.relief_received:{relief.pk}:{email}",
            purpose="members.relief_received",
            to=email,
            lang=lang,
            template="relief_received",
            context={"relief": relief, "url": absolute_url(f"/members/relief/{relief.pk}/")},
        )
    return relief


@transaction.atomic
def relief_request_withdraw(*, relief: ReliefRequest, actor, note: str = "") -> ReliefRequest:
    return _relief_transition(
        relief,
        to=ReliefRequest.Status.WITHDRAWN,
        actor=actor,
        note=note,
        allowed=ReliefRequest.OPEN_STATUSES,
    )


@transaction.atomic
def relief_request_start_review(*, relief: ReliefRequest, actor) -> ReliefRequest:
    return _relief_transition(
        relief,
        to=ReliefRequest.Status.UNDER_REVIEW,
        actor=actor,
        allowed=[ReliefRequest.Status.SUBMITTED],
    )


@transaction.atomic
def relief_request_decide(
    *,
    relief: ReliefRequest,
    actor,
    decision: str,
    note: str,
    granted_amount: Decimal | None = None,
) -> ReliefRequest:
    """Staff decide: approve, partly approve with an amount, or reject. The fee changes in the
    same transaction and the company's administrators are told after commit."""
    statuses = ReliefRequest.Status
    if decision not in (statuses.APPROVED, statuses.PARTLY_APPROVED, statuses.REJECTED):
        raise PortalError(_("Unknown decision."))
    if not (note or "").strip():
        raise ValidationError({"note": [_("A decision note is required.")]})
    relief = ReliefRequest.objects.select_for_update().get(pk=relief.pk)
    fee = (
        MembershipFee.objects.select_for_update()
        .filter(company_id=relief.company_id, year=relief.year)
        .first()
    )
    if fee is None:
        raise PortalError(_("The company has no fee for this year."))
    payable = fee.amount_due - fee.amount_paid
    if decision == statuses.PARTLY_APPROVED:
        if relief.kind == ReliefRequest.Kind.DEFERRAL:
            raise PortalError(
                _("A deferral is approved or rejected; it cannot be partly approved.")
            )
        if granted_amount is None or granted_amount <= ZERO:
            raise ValidationError(
                {"granted_amount": [_("Enter the relief granted, greater than zero.")]}
            )
        asked = payable if relief.kind == ReliefRequest.Kind.WAIVER else relief.requested_amount
        if granted_amount >= asked:
            raise ValidationError(
                {
                    "granted_amount": [
                        _("A partial approval grants less than the %(asked)s CNY asked for.")
                        % {"asked": asked}
                    ]
                }
            )
    elif decision == statuses.APPROVED:
        granted_amount = {
            ReliefRequest.Kind.WAIVER: payable,
            ReliefRequest.Kind.REDUCTION: min(relief.requested_amount or ZERO, payable),
            ReliefRequest.Kind.DEFERRAL: None,
        }[relief.kind]
    else:
        granted_amount = None

    relief = _relief_transition(
        relief,
        to=decision,
        actor=actor,
        note=note,
        allowed=[statuses.SUBMITTED, statuses.UNDER_REVIEW],
    )
    relief.granted_amount = granted_amount
    relief.decision_note = note.strip()
    relief.decided_by = actor
    relief.decided_at = timezone.now()
    relief.save(update_fields=["granted_amount", "decision_note", "decided_by", "decided_at"])

    if decision != statuses.REJECTED:
        if relief.kind == ReliefRequest.Kind.DEFERRAL:
            fee.due_date = relief.deferral_until
            reason = _("Payment deferred to %(date)s") % {"date": relief.deferral_until}
        else:
            fee.relief_amount = min(fee.relief_amount + granted_amount, fee.amount_due)
            reason = _("Relief of %(amount)s CNY granted") % {"amount": granted_amount}
        _fee_set_status(fee, actor=actor, reason=reason)

    for email, lang in company_admin_recipients(relief.company):
        _mail(
            key=f"members.relief_decision:{relief.pk}:{email}",
            purpose="members.relief_decision",
            to=email,
            lang=lang,
            template="relief_decision",
            context={
                "relief": relief,
                "fee": fee,
                "url": absolute_url(f"/members/relief/{relief.pk}/"),
            },
        )
    return relief
