"""Writes for open letters, initiative signatures and alliance co-signatures.

Signatures follow double opt-in: a new signature waits for its signer to click the confirmation
link; only confirmed signatures that staff have not hidden count or show. The exact counts live in
``SignatureTally``, changed in the same transaction as the signature, so public pages read a few
dozen tally rows instead of counting the signature table.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cqa_portal.core import links, mail, pagecache
from cqa_portal.core.errors import PortalError
from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.services import audit_log, outbox_enqueue
from cqa_portal.core.site import absolute_url
from cqa_portal.core.validators import normalize_uscc, uscc_check_ok, validate_uscc_format

from . import conf
from .models import (
    CONFIRM_LINK,
    WITHDRAW_LINK,
    Alliance,
    CoSignature,
    Initiative,
    Signature,
    SignatureKind,
    SignatureTally,
)


def normalize_email(value: str) -> str:
    return (value or "").strip().lower()


def _uscc_fields(value: str) -> dict:
    """Normalised code and the review flag; a malformed code raises ValidationError."""
    code = normalize_uscc(value)
    if not code:
        return {"uscc": "", "uscc_needs_review": False}
    validate_uscc_format(code)
    return {"uscc": code, "uscc_needs_review": not uscc_check_ok(code)}


# --- publishing -------------------------------------------------------------------------------


@transaction.atomic
def publication_save(*, obj, actor, was_published: bool, at=None):
    """Save a letter, initiative or alliance edited by staff; log publishing and withdrawing.

    Publishing without a date publishes now.
    """
    at = at or timezone.now()
    if obj.is_published and obj.published_at is None:
        obj.published_at = at
    obj.save()
    pagecache.bump("pledges")
    if obj.is_published != was_published:
        label = obj._meta.model_name
        audit_log(
            actor=actor,
            action=f"pledges.{label}.{'published' if obj.is_published else 'unpublished'}",
            obj=obj,
            from_state="published" if was_published else "draft",
            to_state="published" if obj.is_published else "draft",
        )
    return obj


# --- counts -----------------------------------------------------------------------------------


def _tally_change(signature: Signature, *, confirmed: int, public: int) -> None:
    """Add to the counters of the signature's initiative, kind and province."""
    if not confirmed and not public:
        return
    pagecache.bump("pledges")
    tally, _created = SignatureTally.objects.get_or_create(
        initiative_id=signature.initiative_id,
        kind=signature.kind,
        province=signature.province,
    )
    SignatureTally.objects.filter(pk=tally.pk).update(
        confirmed=F("confirmed") + confirmed, public=F("public") + public
    )


def _count_in(signature: Signature, sign: int) -> None:
    """The signature starts (+1) or stops (-1) counting."""
    _tally_change(signature, confirmed=sign, public=sign if signature.show_name else 0)


@transaction.atomic
def tally_rebuild(*, initiative_id: int) -> int:
    """Recount an initiative's tally from its signatures (after bulk loads, or to check)."""
    Initiative.objects.select_for_update().get(pk=initiative_id)
    SignatureTally.objects.filter(initiative_id=initiative_id).delete()
    rows = (
        Signature.objects.filter(
            initiative_id=initiative_id, status=Signature.Status.CONFIRMED, is_hidden=False
        )
        .values("kind", "province")
        .annotate(confirmed=Count("pk"), public=Count("pk", filter=Q(show_name=True)))
    )
    tallies = [
        SignatureTally(
            initiative_id=initiative_id,
            kind=row["kind"],
            province=row["province"],
            confirmed=row["confirmed"],
            public=row["public"],
        )
        for row in rows
    ]
    SignatureTally.objects.bulk_create(tallies)
    pagecache.bump("pledges")
    return sum(t.confirmed for t in tallies)


# --- signature mails --------------------------------------------------------------------------


def _mail_key(signature_id: int, number: int) -> str:
    return f"pledges.signature:{signature_id}:{number}"


def _signature_mail_keys(signature_ids) -> list[str]:
    most = conf.get().max_mails + 1
    return [_mail_key(pk, n) for pk in signature_ids for n in range(1, most + 1)]


def signature_links(signature: Signature, *, at=None) -> dict:
    """The confirm and withdraw links, opening in the signer's language."""
    lang = signature.language

    def url(name: str, purpose: links.LinkPurpose) -> str:
        token = links.make(purpose, signature, at=at)
        return mail.with_language(absolute_url(reverse(name, kwargs={"token": token})), lang)

    return {
        "confirm_url": url("pledges:confirm", CONFIRM_LINK),
        "withdraw_url": url("pledges:withdraw", WITHDRAW_LINK),
    }


def _send_signature_mail(
    *, signature: Signature, template: str, to: str, at, lang: str | None = None
) -> None:
    """One mail about a signature, in the signer's language (``lang``: the recipient's, when
    not the signer)."""
    lang = lang or signature.language
    signature.confirmations_sent += 1
    signature.confirmation_sent_at = at
    signature.save(update_fields=["confirmations_sent", "confirmation_sent_at"])
    context = {
        "signature": signature,
        "initiative": signature.initiative,
        "confirm_days": conf.get().confirm_max_age_days,
        "portal": settings.PORTAL,
        **signature_links(signature, at=at),
    }
    outbox_enqueue(
        key=_mail_key(signature.pk, signature.confirmations_sent),
        purpose=f"pledges.signature.{template}",
        to=to,
        **mail.render_mail(template=f"pledges/mail/{template}", context=context, lang=lang),
    )


def _may_mail_again(signature: Signature, at) -> bool:
    if signature.confirmations_sent >= conf.get().max_mails:
        return False
    last = signature.confirmation_sent_at
    return last is None or at - last >= conf.get().resend_interval


# --- signing ----------------------------------------------------------------------------------


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
            "30 days and was deleted. You are welcome to sign again."
        ),
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
def signatures_erase(*, signature_ids, actor, reason: str = "", at=None) -> int:
    """Staff erase signatures on their signers' request (same effect as the withdraw link)."""
    at = at or timezone.now()
    count = 0
    for signature in Signature.objects.select_for_update().filter(pk__in=list(signature_ids)):
        if signature.status == Signature.Status.WITHDRAWN:
            continue
        from_state = _erase(signature, at)
        audit_log(
            actor=actor,
            action="pledges.signature.withdrawn",
            obj=signature,
            from_state=from_state,
            to_state=Signature.Status.WITHDRAWN,
            detail=reason or "erased by staff on request",
        )
        count += 1
    return count


@transaction.atomic
def signatures_set_hidden(*, signature_ids, hidden: bool, actor, reason: str = "") -> int:
    """Moderation: a hidden signature is neither shown nor counted; showing it restores it."""
    count = 0
    rows = Signature.objects.select_for_update().filter(
        pk__in=list(signature_ids), is_hidden=not hidden
    )
    for signature in rows.exclude(status=Signature.Status.WITHDRAWN):
        if signature.status == Signature.Status.CONFIRMED:
            _count_in(signature, -1 if hidden else +1)
        signature.is_hidden = hidden
        signature.save(update_fields=["is_hidden"])
        audit_log(
            actor=actor,
            action=f"pledges.signature.{'hidden' if hidden else 'shown'}",
            obj=signature,
            from_state="visible" if hidden else "hidden",
            to_state="hidden" if hidden else "visible",
            detail=reason,
        )
        count += 1
    return count


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


@transaction.atomic
def signatures_purge(*, at=None) -> dict:
    """What the privacy notice promises: unconfirmed signatures go after 30 days, and IP hashes
    of signatures and co-sign applications too. Set-based; running it again deletes nothing."""
    at = at or timezone.now()
    cutoff = at - timedelta(days=conf.get().retention_days)
    stale = Signature.objects.filter(status=Signature.Status.PENDING, created_at__lt=cutoff)
    ids = list(stale.values_list("pk", flat=True))
    deleted = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        OutboxMessage.objects.filter(key__in=_signature_mail_keys(chunk)).delete()
        deleted += Signature.objects.filter(pk__in=chunk).delete()[0]
    hashes = Signature.objects.filter(created_at__lt=cutoff).exclude(ip_hash="").update(ip_hash="")
    hashes += (
        CoSignature.objects.filter(created_at__lt=cutoff).exclude(ip_hash="").update(ip_hash="")
    )
    return {"unconfirmed_deleted": deleted, "ip_hashes_erased": hashes}


# --- alliance co-signatures -------------------------------------------------------------------


def _cosign_mail(cosignature: CoSignature, template: str, at) -> None:
    """A mail to the applicant, in the language they applied in (not the staff member's)."""
    stamp = int(at.timestamp())
    context = {"cosignature": cosignature, "alliance": cosignature.alliance}
    outbox_enqueue(
        key=f"pledges.cosign:{cosignature.pk}:{template}:{stamp}",
        purpose=f"pledges.{template}",
        to=cosignature.contact_email,
        **mail.render_mail(
            template=f"pledges/mail/{template}", context=context, lang=cosignature.language
        ),
    )


@transaction.atomic
def cosign_apply(
    *, alliance: Alliance, data: dict, ip_hash: str = "", at=None
) -> tuple[CoSignature, bool]:
    """An organisation applies to co-sign the alliance initiative. Nothing is public until
    staff approve it. A second application for an organisation already pending or approved is
    not stored again."""
    at = at or timezone.now()
    name = data["organisation"].strip()
    existing = (
        CoSignature.objects.filter(alliance=alliance, organisation__iexact=name)
        .exclude(status=CoSignature.Status.REJECTED)
        .first()
    )
    if existing is not None:
        return existing, False
    cosignature = CoSignature.objects.create(
        alliance=alliance,
        organisation=name,
        organisation_en=data.get("organisation_en", "").strip(),
        organisation_type=data["organisation_type"],
        province=data["province"],
        website=data.get("website", ""),
        contact_name=data["contact_name"].strip(),
        contact_title=data.get("contact_title", "").strip(),
        contact_email=normalize_email(data["contact_email"]),
        contact_phone=data.get("contact_phone", "").strip(),
        statement=data.get("statement", "").strip(),
        ip_hash=ip_hash,
        consent_at=at,
        language=mail.mail_language(translation.get_language()),
        **_uscc_fields(data.get("uscc", "")),
    )
    audit_log(
        actor=None,
        action="pledges.cosignature.applied",
        obj=cosignature,
        to_state=CoSignature.Status.PENDING,
    )
    _cosign_mail(cosignature, "cosign_received", at)
    return cosignature, True


@transaction.atomic
def cosign_decide(*, cosignature_ids, approve: bool, actor, note: str = "", at=None) -> int:
    """Staff approve (after verifying the organisation and its contact) or reject applications.
    Approving a rejected one or rejecting an approved one (withdrawing the approval) is allowed;
    every change is logged and the contact is told."""
    at = at or timezone.now()
    target = CoSignature.Status.APPROVED if approve else CoSignature.Status.REJECTED
    count = 0
    rows = CoSignature.objects.select_for_update().select_related("alliance")
    for cosignature in rows.filter(pk__in=list(cosignature_ids)).exclude(status=target):
        from_state = cosignature.status
        cosignature.status = target
        cosignature.decided_by = actor if getattr(actor, "is_authenticated", False) else None
        cosignature.decided_at = at
        if note:
            cosignature.decision_note = note
        cosignature.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_log(
            actor=actor,
            action=f"pledges.cosignature.{target}",
            obj=cosignature,
            from_state=from_state,
            to_state=target,
            detail=cosignature.decision_note,
        )
        _cosign_mail(cosignature, f"cosign_{target}", at)
        count += 1
    return count
