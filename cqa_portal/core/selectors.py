"""Reads for the core building blocks."""

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet

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


def jobs_of(*, user) -> QuerySet:
    """A staff user's background jobs, newest first (the last 100), without their reports."""
    from .models import Job

    return (
        Job.objects.filter(owner=user)
        .defer("report", "params")
        .order_by("-created_at", "-id")[:100]
    )


def job_of(*, user, pk: int):
    """One of the user's jobs, or None (another user's job is not theirs to see)."""
    from .models import Job

    return Job.objects.filter(owner=user, pk=pk).first()


def outbox_backlog(*, now=None) -> dict:
    """Mail health in one query: how many mails wait to be sent, how many failed, and how long
    the oldest waiting one has waited (a timedelta, or None when nothing waits)."""
    from django.db.models import Count, Min, Q
    from django.utils import timezone

    pending = Q(status=OutboxMessage.Status.PENDING)
    row = OutboxMessage.objects.aggregate(
        pending=Count("pk", filter=pending),
        failed=Count("pk", filter=Q(status=OutboxMessage.Status.FAILED)),
        oldest=Min("created_at", filter=pending),
    )
    oldest = row["oldest"]
    return {
        "pending": row["pending"],
        "failed": row["failed"],
        "oldest_pending_age": (now or timezone.now()) - oldest if oldest else None,
    }
