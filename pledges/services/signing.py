"""Signing, confirming, resending and withdrawing initiative signatures (people and companies)."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cqa_portal.core import links, mail, privacy, retention
from cqa_portal.core.errors import PortalError
from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.services import audit_log

from ..models import (
    Initiative,
    Signature,
    SignatureKind,
)
from .publishing import _uscc_fields, normalize_email
from .signature_mail import _may_mail_again, _send_signature_mail, _signature_mail_keys
from .tally import _count_in


@dataclass(frozen=True)
class SignatureInput:
    kind: str
    name: str
    email: str
    province: str
    organisation: str = ""
    title: str = ""
    uscc: str = ""
    show_name: bool = False


class SignOutcome(enum.Enum):
    CREATED = "created"
    RESENT = "resent"  # pending again: confirmation re-sent
    REMINDED = "reminded"  # already confirmed: a reminder with the withdraw link
    THROTTLED = "throttled"  # known, but a mail went out too recently


@transaction.atomic
def signature_sign(
    *, initiative: Initiative, data: SignatureInput, ip_hash: str = "", at=None
) -> tuple[Signature, SignOutcome]:
    """Sign an initiative by email (double opt-in).

    Signing again with the same email never creates a second row: an unconfirmed signature takes
    the new details and gets its confirmation again, a confirmed one gets a reminder, both at most
    once per ``PLEDGES_RESEND_INTERVAL``. Callers must answer the same in every case.
    """
    at = at or timezone.now()
    if data.kind not in SignatureKind.values:
        raise PortalError(
            _("Choose whether you sign as an enterprise or as an individual."), code="kind"
        )
    email = normalize_email(data.email)
    details = {
        "kind": data.kind,
        "name": data.name.strip(),
        "title": data.title.strip() if data.kind == SignatureKind.ENTERPRISE else "",
        "organisation": data.organisation.strip(),
        "province": data.province,
        "show_name": data.show_name,
        # The language the person signs in: their mails and links use it.
        "language": mail.mail_language(translation.get_language()),
        **(
            _uscc_fields(data.uscc)
            if data.kind == SignatureKind.ENTERPRISE
            else {"uscc": "", "uscc_needs_review": False}
        ),
    }
    existing = (
        Signature.objects.select_for_update()
        .select_related("initiative")
        .filter(initiative=initiative, email=email)
        .first()
    )
    if existing is None:
        try:
            with transaction.atomic():
                signature = Signature.objects.create(
                    initiative=initiative,
                    email=email,
                    link_key=links.new_key(),
                    ip_hash=ip_hash,
                    consent_at=at,
                    consent_version=privacy.version(),
                    **details,
                )
        except IntegrityError:
            # The same email signed at the same moment in another request: treat as a repeat.
            existing = (
                Signature.objects.select_for_update()
                .select_related("initiative")
                .get(initiative=initiative, email=email)
            )
        else:
            _send_signature_mail(signature=signature, template="confirm", to=email, at=at)
            return signature, SignOutcome.CREATED

    signature = existing
    if signature.status == Signature.Status.PENDING:
        for field, value in details.items():
            setattr(signature, field, value)
        signature.consent_at = at
        signature.save(update_fields=[*details, "consent_at"])
    if not _may_mail_again(signature, at):
        return signature, SignOutcome.THROTTLED
    if signature.status == Signature.Status.PENDING:
        _send_signature_mail(signature=signature, template="confirm", to=email, at=at)
        return signature, SignOutcome.RESENT
    _send_signature_mail(signature=signature, template="reminder", to=email, at=at)
    return signature, SignOutcome.REMINDED


class LinkOutcome(enum.Enum):
    DONE = "done"
    ALREADY = "already"


def _gone() -> PortalError:
    return PortalError(
        _(
            "This signature no longer exists: it was withdrawn, or it was not confirmed within "
            "%(kept)s days and was deleted. You are welcome to sign again."
        )
        % {"kept": retention.get().unconfirmed_signature_days},
        code="link_revoked",
    )


def _locked_signature(signature_id: int, link_key: str) -> Signature:
    """The signature, locked; PortalError when it is gone or the key is an old one."""
    signature = (
        Signature.objects.select_for_update()
        .select_related("initiative")
        .filter(pk=signature_id)
        .first()
    )
    if signature is None or not secrets.compare_digest(signature.link_key, link_key):
        raise _gone()
    return signature


@transaction.atomic
def signature_confirm(
    *, signature_id: int, link_key: str, at=None
) -> tuple[Signature, LinkOutcome]:
    """The signer follows the confirmation link. A withdrawn (or deleted) signature, or an old
    link key, raises PortalError (code ``link_revoked``)."""
    at = at or timezone.now()
    signature = _locked_signature(signature_id, link_key)
    if signature.status == Signature.Status.WITHDRAWN:
        raise _gone()
    if signature.status == Signature.Status.CONFIRMED:
        return signature, LinkOutcome.ALREADY
    signature.status = Signature.Status.CONFIRMED
    signature.confirmed_at = at
    signature.save(update_fields=["status", "confirmed_at"])
    if not signature.is_hidden:
        _count_in(signature, +1)
    audit_log(
        actor=None,
        action="pledges.signature.confirmed",
        obj=signature,
        from_state=Signature.Status.PENDING,
        to_state=Signature.Status.CONFIRMED,
    )
    return signature, LinkOutcome.DONE


@transaction.atomic
def signature_confirmation_resend(*, signature_id: int, link_key: str, at=None) -> Signature:
    """The signer asks for a new confirmation link (theirs expired): it goes to the address
    they signed with, within the same limits as signing again. Refusals raise PortalError."""
    at = at or timezone.now()
    signature = _locked_signature(signature_id, link_key)
    if signature.status == Signature.Status.WITHDRAWN:
        raise _gone()
    if signature.status == Signature.Status.CONFIRMED:
        raise PortalError(_("This signature is already confirmed."), code="already_confirmed")
    if not _may_mail_again(signature, at):
        raise PortalError(
            _(
                "We have sent a confirmation link to this address recently. Please check your "
                "mailbox (and the spam folder) or try again later."
            ),
            code="throttled",
        )
    _send_signature_mail(signature=signature, template="confirm", to=signature.email, at=at)
    return signature


@transaction.atomic
def signature_withdraw_link_resend(*, signature_id: int, link_key: str, at=None) -> Signature:
    """The signer's withdraw link expired and they ask for a new one: it goes to the address
    they signed with, within the same limits as a new confirmation link."""
    at = at or timezone.now()
    signature = _locked_signature(signature_id, link_key)
    if signature.status == Signature.Status.WITHDRAWN:
        raise _gone()
    if not _may_mail_again(signature, at):
        raise PortalError(
            _(
                "We have sent a link to this address recently. Please check your mailbox (and "
                "the spam folder) or try again later."
            ),
            code="throttled",
        )
    _send_signature_mail(signature=signature, template="withdraw_link", to=signature.email, at=at)
    return signature


def _erase(signature: Signature, at) -> str:
    """Stop counting and keep nothing personal: only initiative, kind and dates remain."""
    if signature.counts:
        _count_in(signature, -1)
    from_state = signature.status
    signature.status = Signature.Status.WITHDRAWN
    signature.withdrawn_at = at
    for field in ["name", "title", "organisation", "uscc", "province", "email", "ip_hash"]:
        setattr(signature, field, "")
    signature.uscc_needs_review = False
    signature.show_name = False
    signature.company = None
    signature.signed_by = None
    signature.consent_at = None
    signature.save()
    # The mails about it carry the name and address too.
    OutboxMessage.objects.filter(key__in=_signature_mail_keys([signature.pk])).delete()
    return from_state


@transaction.atomic
def signature_withdraw(
    *, signature_id: int, link_key: str, actor=None, reason: str = "", at=None
) -> LinkOutcome:
    """The signer (or staff on the signer's request) withdraws: the signature stops counting
    and its personal data is erased at once. An old link key raises PortalError."""
    at = at or timezone.now()
    signature = _locked_signature(signature_id, link_key)
    if signature.status == Signature.Status.WITHDRAWN:
        return LinkOutcome.ALREADY
    from_state = _erase(signature, at)
    audit_log(
        actor=actor,
        action="pledges.signature.withdrawn",
        obj=signature,
        from_state=from_state,
        to_state=Signature.Status.WITHDRAWN,
        detail=reason,
    )
    return LinkOutcome.DONE


@transaction.atomic
def signature_sign_for_company(
    *, initiative: Initiative, membership, show_name: bool, at=None
) -> tuple[Signature, bool]:
    """A member company's administrator signs for the company: confirmed at once (the account
    is verified), once per company; a receipt with the withdraw link goes to the administrator."""
    at = at or timezone.now()
    company, user = membership.company, membership.user
    existing = (
        Signature.objects.select_for_update().filter(initiative=initiative, company=company).first()
    )
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            signature = Signature.objects.create(
                initiative=initiative,
                kind=SignatureKind.ENTERPRISE,
                status=Signature.Status.CONFIRMED,
                name=(user.get_full_name() or user.email)[:100],
                organisation=company.name,
                uscc=company.uscc,
                uscc_needs_review=company.uscc_needs_review,
                province=company.province,
                show_name=show_name,
                company=company,
                signed_by=user,
                language=mail.user_language(user),
                link_key=links.new_key(),
                consent_at=at,
                consent_version=privacy.version(),
                confirmed_at=at,
            )
    except IntegrityError:
        return Signature.objects.get(initiative=initiative, company=company), False
    _count_in(signature, +1)
    audit_log(
        actor=user,
        action="pledges.signature.signed_for_company",
        obj=signature,
        to_state=Signature.Status.CONFIRMED,
        detail=f"company {company.pk}",
    )
    _send_signature_mail(
        signature=signature,
        template="company_receipt",
        to=user.email,
        at=at,
        lang=mail.user_language(user),
    )
    return signature, True


@transaction.atomic
def signature_withdraw_for_company(*, initiative: Initiative, membership, at=None) -> LinkOutcome:
    """A company administrator withdraws the company's signature. PortalError when the company
    has not signed."""
    signature = Signature.objects.filter(initiative=initiative, company=membership.company).first()
    if signature is None:
        raise PortalError(_("Your company has not signed this initiative."), code="not_signed")
    return signature_withdraw(
        signature_id=signature.pk,
        link_key=signature.link_key,
        actor=membership.user,
        reason="withdrawn by a company administrator",
        at=at,
    )
