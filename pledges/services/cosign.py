"""Alliance co-signatures: applications and staff decisions."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone, translation

from cqa_portal.core import mail, privacy
from cqa_portal.core.models import StaffNoticeKind
from cqa_portal.core.services import audit_log, outbox_enqueue, staff_notice_record

from ..models import (
    Alliance,
    CoSignature,
)
from .publishing import _uscc_fields, normalize_email


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
        consent_version=privacy.version(),
        language=mail.mail_language(translation.get_language()),
        **_uscc_fields(data.get("uscc", "")),
    )
    audit_log(
        actor=None,
        action="pledges.cosignature.applied",
        obj=cosignature,
        to_state=CoSignature.Status.PENDING,
    )
    staff_notice_record(kind=StaffNoticeKind.COSIGNATURE, obj=cosignature)
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
