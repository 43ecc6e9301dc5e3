"""Writes for membership fees: generation, payments, edits, overdue marking and reminders."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import CharField, Exists, F, OuterRef, Prefetch, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from cqa_portal.core.errors import PortalError
from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.services import (
    audit_entry,
    audit_log,
    audit_log_many,
    outbox_dispatch,
    outbox_enqueue_many,
)
from cqa_portal.core.site import absolute_url

from ..models import FeePayment, MemberCompany, MembershipFee, ReliefRequest
from .mail import _active_admins, _compose, company_admin_recipients

ZERO = Decimal("0")


def fee_status_for(fee: MembershipFee, today: datetime.date | None = None) -> str:
    today = today or timezone.localdate()
    payable = fee.amount_due - fee.relief_amount
    if fee.relief_amount >= fee.amount_due and fee.amount_due > ZERO:
        return MembershipFee.Status.WAIVED
    if fee.amount_paid >= payable:
        return (
            MembershipFee.Status.REDUCED if fee.relief_amount > ZERO else MembershipFee.Status.PAID
        )
    if fee.due_date < today:
        return MembershipFee.Status.OVERDUE
    return MembershipFee.Status.DUE


def _fee_set_status(fee: MembershipFee, *, actor, reason: str) -> None:
    old = fee.status
    fee.status = fee_status_for(fee)
    fee.save()
    if old != fee.status:
        audit_log(
            actor=actor,
            action=f"members.fee.{fee.status}",
            obj=fee,
            from_state=old,
            to_state=fee.status,
            detail=reason,
        )


@transaction.atomic
def fees_generate(*, year: int, due_date: datetime.date, actor) -> int:
    """Create the year's fee for every active company that has none. Idempotent."""
    companies = (
        MemberCompany.objects.filter(status=MemberCompany.Status.ACTIVE)
        .exclude(fees__year=year)
        .select_related("level")
    )
    fees = [
        MembershipFee(
            company=company,
            year=year,
            amount_due=company.level.annual_fee,
            due_date=due_date,
            status=MembershipFee.Status.DUE,
        )
        for company in companies
    ]
    created = MembershipFee.objects.bulk_create(fees, ignore_conflicts=True)
    if fees:
        audit_log(
            actor=actor,
            action="members.fees.generated",
            obj=actor,
            detail=_("%(count)d fees generated for %(year)d")
            % {"count": len(created), "year": year},
        )
    return len(fees)


@transaction.atomic
def fee_payment_record(
    *, fee: MembershipFee, amount: Decimal, paid_on: datetime.date, reference: str = "", actor
) -> FeePayment:
    fee = MembershipFee.objects.select_for_update().get(pk=fee.pk)
    if amount is None or amount <= ZERO:
        raise PortalError(_("The amount must be greater than zero."))
    if amount > fee.outstanding:
        raise PortalError(
            _("The amount is more than the %(outstanding)s CNY still outstanding.")
            % {"outstanding": fee.outstanding}
        )
    if paid_on > timezone.localdate():
        raise PortalError(_("The payment date cannot be in the future."))
    payment = FeePayment.objects.create(
        fee=fee, amount=amount, paid_on=paid_on, reference=reference, recorded_by=actor
    )
    fee.amount_paid += amount
    _fee_set_status(fee, actor=actor, reason=_("Payment of %(amount)s CNY") % {"amount": amount})
    audit_log(actor=actor, action="members.fee.payment_recorded", obj=fee, detail=str(amount))
    return payment


FEE_EDITABLE_FIELDS = ("company_id", "year", "amount_due", "relief_amount", "due_date")


def _fee_change_detail(old: MembershipFee | None, fee: MembershipFee) -> str:
    if old is None:
        return ""
    return "; ".join(
        f"{name.removesuffix('_id')}: {getattr(old, name)} → {getattr(fee, name)}"
        for name in FEE_EDITABLE_FIELDS
        if getattr(old, name) != getattr(fee, name)
    )


@transaction.atomic
def fee_save(
    *,
    fee: MembershipFee,
    actor,
    reason: str,
    amount_paid: Decimal | None = None,
    paid_on: datetime.date | None = None,
) -> MembershipFee:
    """Create or change a fee (the admin form, an import): its company, year, amount due,
    relief and due date as given; what was paid only ever through payment records, and the
    status worked out from the amounts. Every change is logged with ``reason``.

    ``amount_paid`` (an import's column) is the total paid: more than already recorded
    becomes a payment of the difference on ``paid_on`` (today by default) through
    ``fee_payment_record``; less is refused (a payment is corrected in the admin)."""
    reason = str(reason)
    old = MembershipFee.objects.select_for_update().filter(pk=fee.pk).first() if fee.pk else None
    recorded = old.amount_paid if old else ZERO
    if amount_paid is not None and amount_paid < recorded:
        raise ValidationError(
            _(
                "%(recorded)s CNY have already been recorded as paid; a file cannot lower that. "
                "Correct a payment in the administration."
            )
            % {"recorded": recorded}
        )
    fee.amount_paid = recorded
    fee.status = old.status if old else fee_status_for(fee)
    detail = _fee_change_detail(old, fee)
    fee.save()
    if old is None:
        audit_log(
            actor=actor,
            action="members.fee.created",
            obj=fee,
            to_state=fee.status,
            detail=reason,
        )
    elif detail:
        audit_log(
            actor=actor,
            action="members.fee.updated",
            obj=fee,
            detail=f"{reason}: {detail}",
        )
    _fee_set_status(fee, actor=actor, reason=reason)
    if amount_paid is not None and amount_paid > recorded:
        fee_payment_record(
            fee=fee,
            amount=amount_paid - recorded,
            paid_on=paid_on or timezone.localdate(),
            reference=reason,
            actor=actor,
        )
        fee.refresh_from_db()
    return fee


@transaction.atomic
def fees_mark_overdue(*, today: datetime.date | None = None) -> int:
    """Set-based: unpaid fees past their due date become overdue, each with an audit entry
    (written in bulk). Safe to re-run."""
    today = today or timezone.localdate()
    late = MembershipFee.objects.select_for_update(of=("self",)).filter(
        status=MembershipFee.Status.DUE,
        due_date__lt=today,
        amount_paid__lt=F("amount_due") - F("relief_amount"),
    )
    fees = list(late.select_related("company"))
    if not fees:
        return 0
    MembershipFee.objects.filter(pk__in=[fee.pk for fee in fees]).update(
        status=MembershipFee.Status.OVERDUE
    )
    reason = _("Past its due date (%(date)s)")
    audit_log_many(
        entries=(
            audit_entry(
                actor=None,
                action=f"members.fee.{MembershipFee.Status.OVERDUE}",
                obj=fee,
                from_state=MembershipFee.Status.DUE,
                to_state=MembershipFee.Status.OVERDUE,
                detail=reason % {"date": fee.due_date.isoformat()},
            )
            for fee in fees
        )
    )
    return len(fees)


# Dues reminder steps: (name, first day relative to the due date, last day).
REMINDER_STEPS = [
    ("before_30", -30, -8),
    ("before_7", -7, -1),
    ("after_7", 7, 29),
    ("after_30", 30, 60),
]


FEE_REMINDER_PURPOSE = "members.fee_reminder"


def fee_reminders_send(*, today: datetime.date | None = None, batch_size: int = 300) -> int:
    """Write the dues reminders that are due today; returns how many mails were written.

    The bulk path: the mails are written to the outbox in batches and sent after commit in
    chunks of ``batch_size`` by the mail queue (never inside the beat task). A fee gets each
    step at most once (the outbox key is the ledger); never while the company has a pending or
    granted relief request for that year; a step whose window has passed (e.g. the scheduler
    was down) is skipped rather than sent late; recipients who opted out of dues reminders are
    skipped.
    """
    today = today or timezone.localdate()
    written = 0
    for step, first, last in REMINDER_STEPS:
        key_prefix = Concat(
            Value("members.fee_reminder:"),
            Cast(OuterRef("pk"), output_field=CharField()),
            Value(f":{step}:"),
        )
        relief = ReliefRequest.objects.filter(
            company=OuterRef("company"),
            year=OuterRef("year"),
            status__in=[*ReliefRequest.PENDING_STATUSES, *ReliefRequest.GRANTED_STATUSES],
        )
        fees = (
            MembershipFee.objects.filter(
                status__in=[MembershipFee.Status.DUE, MembershipFee.Status.OVERDUE],
                company__status=MemberCompany.Status.ACTIVE,
                due_date__gte=today - datetime.timedelta(days=last),
                due_date__lte=today - datetime.timedelta(days=first),
            )
            .annotate(
                already=Exists(OutboxMessage.objects.filter(key__startswith=key_prefix)),
                relief=Exists(relief),
            )
            .filter(already=False, relief=False)
            .select_related("company")
            .prefetch_related(
                Prefetch("company__members", queryset=_active_admins(), to_attr="active_admins")
            )
        )
        with transaction.atomic():
            ids = outbox_enqueue_many(messages=_fee_reminders(fees, step))
            outbox_dispatch(message_ids=ids, batch_size=batch_size)
        written += len(ids)
    return written


def _fee_reminders(fees, step: str):
    """The reminder of each fee to each of its company's administrators (rendered once per
    fee and language)."""
    url = absolute_url("/members/")
    for fee in fees.iterator(chunk_size=500):
        texts: dict[str, dict] = {}
        for email, lang in company_admin_recipients(fee.company):
            if lang not in texts:
                texts[lang] = _compose(
                    lang=lang,
                    template="fee_reminder",
                    context={"fee": fee, "step": step, "url": url},
                    list_kind=FEE_REMINDER_PURPOSE,
                )
            yield {
                **texts[lang],
                "key": f"{FEE_REMINDER_PURPOSE}:{fee.pk}:{step}:{email}",
                "purpose": FEE_REMINDER_PURPOSE,
                "to": email,
            }
