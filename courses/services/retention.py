"""The privacy notice's promise for course registrations (``core.retention``)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cqa_portal.core import retention
from cqa_portal.core.models import OutboxMessage

from ..models import Registration


@transaction.atomic
def registrations_purge(*, at=None) -> int:
    """Delete pending (never confirmed) registrations older than
    ``unconfirmed_registration_days``, with the mails about them. Set-based; re-runnable."""
    at = at or timezone.now()
    cutoff = retention.get().cutoff("unconfirmed_registration_days", at)
    ids = list(
        Registration.objects.filter(
            status=Registration.Status.PENDING, created_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    deleted = 0
    for start in range(0, len(ids), 200):
        chunk = ids[start : start + 200]
        mails = Q()
        for pk in chunk:
            mails |= Q(key__startswith=f"courses.registration.confirm_request:{pk}:")
            mails |= Q(key__startswith=f"courses.registration.already_registered:{pk}:")
        OutboxMessage.objects.filter(mails).delete()
        deleted += Registration.objects.filter(pk__in=chunk).delete()[0]
    return deleted
