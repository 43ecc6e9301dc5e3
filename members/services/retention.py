"""The privacy notice's promises for invitations and fee-relief documents (``core.retention``)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from cqa_portal.core import retention
from cqa_portal.core.models import OutboxMessage

from .. import conf
from ..models import Invitation, ReliefDocument, ReliefRequest


@transaction.atomic
def retention_purge(*, at=None) -> dict:
    """Delete invitations that were never accepted ``expired_invitation_days`` after their link
    expired or they were withdrawn (with their mails), and the supporting documents (files and
    rows) of relief requests decided or withdrawn ``relief_document_days`` ago. The decisions
    themselves stay. Set-based; running it again deletes nothing."""
    at = at or timezone.now()
    keep = retention.get()
    cutoff = keep.cutoff("expired_invitation_days", at)
    stale = Invitation.objects.filter(accepted_at__isnull=True).filter(
        Q(revoked_at__lt=cutoff) | Q(created_at__lt=cutoff - conf.get().invitation_max_age)
    )
    ids = list(stale.values_list("pk", flat=True))
    mails = Q()
    for pk in ids:
        mails |= Q(key__startswith=f"members.invitation:{pk}:")
    if ids:
        OutboxMessage.objects.filter(mails).delete()
    invitations = Invitation.objects.filter(pk__in=ids).delete()[0]

    documents = ReliefDocument.objects.annotate(
        closed_at=Coalesce("request__decided_at", "request__submitted_at", "request__created_at")
    ).filter(
        request__status__in=[
            ReliefRequest.Status.APPROVED,
            ReliefRequest.Status.PARTLY_APPROVED,
            ReliefRequest.Status.REJECTED,
            ReliefRequest.Status.WITHDRAWN,
        ],
        closed_at__lt=keep.cutoff("relief_document_days", at),
    )
    files = 0
    for document in documents:
        name = document.file.name
        storage = document.file.storage
        document.delete()
        transaction.on_commit(lambda s=storage, n=name: s.delete(n) if n else None)
        files += 1
    return {"invitations_deleted": invitations, "relief_documents_deleted": files}
