"""Staff moderation of signatures (erase, hide, show) and the purge of stale ones."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cqa_portal.core import retention
from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.services import audit_log

from ..models import (
    CoSignature,
    Signature,
)
from .signature_mail import _signature_mail_keys
from .signing import _erase
from .tally import _count_in


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
def signatures_purge(*, at=None) -> dict:
    """What the privacy notice promises (``core.retention``): unconfirmed signatures go after
    ``unconfirmed_signature_days``, IP hashes of signatures and co-sign applications after
    ``ip_hash_days``, and a rejected co-sign application's contact person after
    ``rejected_cosign_days`` (the organisation and the decision remain). Set-based; running it
    again changes nothing."""
    at = at or timezone.now()
    keep = retention.get()
    cutoff = keep.cutoff("unconfirmed_signature_days", at)
    stale = Signature.objects.filter(status=Signature.Status.PENDING, created_at__lt=cutoff)
    ids = list(stale.values_list("pk", flat=True))
    deleted = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        OutboxMessage.objects.filter(key__in=_signature_mail_keys(chunk)).delete()
        deleted += Signature.objects.filter(pk__in=chunk).delete()[0]
    ip_cutoff = keep.cutoff("ip_hash_days", at)
    hashes = (
        Signature.objects.filter(created_at__lt=ip_cutoff).exclude(ip_hash="").update(ip_hash="")
    )
    hashes += (
        CoSignature.objects.filter(created_at__lt=ip_cutoff).exclude(ip_hash="").update(ip_hash="")
    )
    rejected = cosign_contacts_erase(
        queryset=CoSignature.objects.filter(
            status=CoSignature.Status.REJECTED,
            decided_at__lt=keep.cutoff("rejected_cosign_days", at),
        )
    )
    return {"unconfirmed_deleted": deleted, "ip_hashes_erased": hashes, "rejected_erased": rejected}


def cosign_contacts_erase(*, queryset) -> int:
    """Erase the contact person of co-sign applications and the mails about them; the
    organisation, its status and the decision stay (the fact of a decision is never lost)."""
    ids = list(queryset.exclude(contact_email="").values_list("pk", flat=True))
    if not ids:
        return 0
    for start in range(0, len(ids), 200):
        mails = Q()
        for pk in ids[start : start + 200]:
            mails |= Q(key__startswith=f"pledges.cosign:{pk}:")
        OutboxMessage.objects.filter(mails).delete()
    return CoSignature.objects.filter(pk__in=ids).update(
        contact_name="",
        contact_title="",
        contact_email="",
        contact_phone="",
        ip_hash="",
        consent_at=None,
    )
