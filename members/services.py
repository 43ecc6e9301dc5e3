"""Writes for member companies, their users, fees and fee-relief requests."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, F, OuterRef, Prefetch, Value
from django.db.models.functions import Cast, Concat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cqa_portal.core import links, mail
from cqa_portal.core.errors import PortalError
from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.services import (
    audit_entry,
    audit_log,
    audit_log_many,
    audit_log_select,
    outbox_dispatch,
    outbox_enqueue,
    outbox_enqueue_many,
)
from cqa_portal.core.site import absolute_url
from cqa_portal.core.validators import normalize_uscc, uscc_check_ok

from . import conf
from .models import (
    INVITATION_LINK,
    CompanyMembership,
    FeePayment,
    Invitation,
    MemberCompany,
    MembershipApplication,
    MembershipFee,
    ReliefDocument,
    ReliefRequest,
)
from .uploads import check_upload

ZERO = Decimal("0")


# --- mail -------------------------------------------------------------------------------------


def _compose(*, lang: str, template: str, context: dict, list_kind: str = "") -> dict:
    """A member mail in the recipient's language ``lang`` (``outbox_enqueue``'s arguments)."""
    if "url" in context:
        context = {**context, "url": mail.with_language(context["url"], lang)}
    return mail.render_mail(
        template=f"members/mail/{template}", context=context, lang=lang, list_kind=list_kind
    )


def _mail(*, key: str, purpose: str, to: str, lang: str, template: str, context: dict):
    """Render a mail in the recipient's language ``lang`` and put it in the outbox."""
    return outbox_enqueue(
        key=key, purpose=purpose, to=to, **_compose(lang=lang, template=template, context=context)
    )


def _active_admins():
    return (
        CompanyMembership.objects.filter(role=CompanyMembership.Role.ADMIN, user__is_active=True)
        .select_related("user")
        .order_by("joined_at")
    )


def company_admin_recipients(company: MemberCompany) -> list[tuple[str, str]]:
    """The company administrators' addresses and languages (the contact email, in the portal's
    first language, if it has none). Uses ``company.active_admins`` when a batch query
    prefetched it."""
    admins = getattr(company, "active_admins", None)
    if admins is None:
        admins = _active_admins().filter(company=company)
    recipients = [
        (membership.user.email, mail.user_language(membership.user)) for membership in admins
    ]
    if not recipients and company.contact_email:
        recipients = [(company.contact_email, settings.LANGUAGE_CODE)]
    return recipients


# --- companies and joining ------------------------------------------------------------------


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


# --- company users --------------------------------------------------------------------------


@transaction.atomic
def invitation_create(*, company: MemberCompany, email: str, actor) -> Invitation:
    email = email.strip().lower()
    if CompanyMembership.objects.filter(user__email__iexact=email, company=company).exists():
        raise PortalError(_("This person is already a user of your company."))
    if CompanyMembership.objects.filter(user__email__iexact=email).exists():
        raise PortalError(
            _("This email address already belongs to a user of another member company.")
        )
    invitation = (
        Invitation.objects.select_for_update()
        .filter(company=company, email=email, accepted_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    if invitation is not None and invitation.created_at < timezone.now() - (
        conf.get().invitation_max_age
    ):
        # Its link has expired: withdraw it and invite afresh (a new link in a new mail).
        _invitation_close(invitation, field="revoked_at")
        audit_log(actor=actor, action="members.invitation.revoked", obj=invitation)
        invitation = None
    if invitation is None:
        invitation = Invitation.objects.create(company=company, email=email, invited_by=actor)
        audit_log(actor=actor, action="members.invitation.created", obj=invitation)

    # The invitee's own language if they have an account, else the inviter's.
    invitee = get_user_model().objects.filter(email__iexact=email).first()
    _mail(
        key=f"members.invitation:{invitation.pk}:{email}",
        purpose="members.invitation",
        to=email,
        lang=mail.user_language(invitee) if invitee else mail.user_language(actor),
        template="invitation",
        context={
            "company": company,
            "inviter": actor,
            "url": absolute_url(
                reverse("members:invitation", kwargs={"token": invitation_link(invitation)})
            ),
        },
    )
    return invitation


def invitation_link(invitation: Invitation) -> str:
    """The token of the invitation's link: the same whenever it is made."""
    return links.make(INVITATION_LINK, invitation)


def _invitation_close(invitation: Invitation, *, field: str) -> None:
    """Accepted or withdrawn: the link is used up (a new key revokes it)."""
    setattr(invitation, field, timezone.now())
    links.rotate_key(invitation, save=False)
    invitation.save(update_fields=[field, "link_key"])


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user) -> CompanyMembership:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at or invitation.revoked_at:
        raise PortalError(_("This invitation is no longer valid."), code="link_revoked")
    if user.email.lower() != invitation.email.lower():
        raise PortalError(
            _("This invitation was sent to %(email)s. Log in with that address to accept it.")
            % {"email": invitation.email}
        )
    if CompanyMembership.objects.filter(user=user).exists():
        raise PortalError(_("Your account already belongs to a member company."))
    membership = CompanyMembership.objects.create(
        user=user, company=invitation.company, role=CompanyMembership.Role.COLLEAGUE
    )
    _invitation_close(invitation, field="accepted_at")
    audit_log(actor=user, action="members.invitation.accepted", obj=invitation)
    audit_log(
        actor=user,
        action="members.user.linked",
        obj=invitation.company,
        detail=user.email,
    )
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor) -> None:
    if invitation.accepted_at or invitation.revoked_at:
        return
    _invitation_close(invitation, field="revoked_at")
    audit_log(actor=actor, action="members.invitation.revoked", obj=invitation)


@transaction.atomic
def company_user_link(*, company: MemberCompany, user, role: str, actor) -> CompanyMembership:
    """Staff link a user to a company (admin)."""
    if CompanyMembership.objects.filter(user=user).exclude(company=company).exists():
        raise PortalError(_("This user already belongs to another company."))
    membership, _created = CompanyMembership.objects.update_or_create(
        user=user, defaults={"company": company, "role": role}
    )
    audit_log(
        actor=actor, action="members.user.linked", obj=company, detail=f"{user.email} ({role})"
    )
    return membership


@transaction.atomic
def company_user_remove(*, membership: CompanyMembership, actor) -> None:
    company = MemberCompany.objects.select_for_update().get(pk=membership.company_id)
    if membership.is_admin and (
        CompanyMembership.objects.filter(company=company, role=CompanyMembership.Role.ADMIN)
        .exclude(pk=membership.pk)
        .count()
        == 0
    ):
        raise PortalError(
            _("A company needs at least one administrator. Appoint another one first.")
        )
    email = membership.user.email
    membership.delete()
    audit_log(actor=actor, action="members.user.unlinked", obj=company, detail=email)


# --- fees -----------------------------------------------------------------------------------


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


# --- fee relief -----------------------------------------------------------------------------


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
    for upload in files:
        relief_document_add(relief=relief, upload=upload, actor=actor)
    if creating:
        audit_log(actor=actor, action="members.relief.draft", obj=relief, to_state=relief.status)
    if submit:
        relief_request_submit(relief=relief, actor=actor)
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
    document.save()
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
