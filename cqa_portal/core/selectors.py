"""Reads for the core building blocks."""

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from . import mail
from .models import AuditEntry, MailOptOut, OutboxMessage


def audit_history(*, obj: models.Model) -> QuerySet[AuditEntry]:
    """The audit entries of one object, newest first, with their actors."""
    return AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).select_related("actor")


def unsubscribe_target(*, token: str) -> OutboxMessage | None:
    """The bulk mail a one-click unsubscribe token names, or None."""
    message_id = mail.unsubscribe_message_id(token)
    if message_id is None:
        return None
    return OutboxMessage.objects.filter(pk=message_id).exclude(list_kind="").first()


def opted_out(*, email: str, kind: str) -> bool:
    return MailOptOut.objects.filter(email=email.lower(), kind=kind).exists()


def outbox_backlog() -> dict:
    """Mail waiting or failing, for staff (outbox admin, programme dashboard) and /healthz:
    ``pending`` (waiting to be sent, including claimed rows), ``failed``, and
    ``oldest_pending_age`` (timedelta since the oldest waiting mail was written, or None).
    One query."""
    status = OutboxMessage.Status
    waiting = [status.PENDING, status.SENDING]
    row = OutboxMessage.objects.aggregate(
        pending=Count("pk", filter=Q(status__in=waiting)),
        failed=Count("pk", filter=Q(status=status.FAILED)),
        oldest=Min("created_at", filter=Q(status__in=waiting)),
    )
    oldest = row["oldest"]
    return {
        "pending": row["pending"],
        "failed": row["failed"],
        "oldest_pending_age": timezone.now() - oldest if oldest is not None else None,
    }
