"""Writes for sessions: save, cancel, duplicate and close the finished ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cqa_portal.core.errors import PortalError
from cqa_portal.core.services import audit_log

from .. import mails
from ..models import Registration, Session
from .seats import (
    ACTIVE,
    _expire_pending_reminders,
    _free_seats,
    _lock_session,
    _notify_registrants,
    _promote,
    _reminder_keys,
)


def _minute(value: datetime) -> datetime:
    """Times are set to the minute; a difference in seconds is no change worth a notice."""
    return value.replace(second=0, microsecond=0)


@dataclass
class SessionSaveResult:
    session: Session
    rescheduled: bool = False
    cancelled: bool = False
    notified: int = 0
    promoted: int = 0
    over_capacity: int = 0


@transaction.atomic
def session_save(*, session: Session, actor, lecturers=None) -> SessionSaveResult:
    """Create or change a session (the admin form). A changed time tells every registrant once;
    a larger capacity fills seats from the waiting list; setting the status to cancelled is the
    same as cancelling with notice."""
    now = timezone.now()
    result = SessionSaveResult(session=session)
    if session.pk is None:
        session.save()
        if lecturers is not None:
            session.lecturers.set(lecturers)
        audit_log(
            actor=actor, action="courses.session.created", obj=session, to_state=session.status
        )
        return result

    old = _lock_session(session.pk)
    wants_cancel = (
        session.status == Session.Status.CANCELLED and old.status != Session.Status.CANCELLED
    )
    if wants_cancel:
        session.status = old.status
    moved = _minute(session.starts_at) != _minute(old.starts_at) or _minute(
        session.ends_at
    ) != _minute(old.ends_at)
    if moved:
        session.sequence = old.sequence + 1
    else:
        session.sequence = old.sequence
    session.save()
    if lecturers is not None:
        session.lecturers.set(lecturers)
    if session.status != old.status:
        audit_log(
            actor=actor,
            action="courses.session.status_changed",
            obj=session,
            from_state=old.status,
            to_state=session.status,
        )
    if moved:
        result.rescheduled = True
        old_local = timezone.localtime(old.starts_at)
        new_local = timezone.localtime(session.starts_at)
        audit_log(
            actor=actor,
            action="courses.session.rescheduled",
            obj=session,
            from_state=f"{old_local:%Y-%m-%d %H:%M}",
            to_state=f"{new_local:%Y-%m-%d %H:%M}",
        )
        _expire_pending_reminders(
            _reminder_keys(
                Registration.objects.filter(session=session).values_list("pk", flat=True),
                old.sequence,
            ),
            why="session moved",
        )
        if not session.is_cancelled and not session.is_past(now):
            texts = mails.BulkTexts(session, join=False)
            languages = set(
                Registration.objects.filter(session=session, status__in=ACTIVE).values_list(
                    "language", flat=True
                )
            )
            old_when = mails.old_when_texts(
                session, starts_at=old.starts_at, ends_at=old.ends_at, languages=languages
            )
            result.notified = _notify_registrants(
                session, lambda row: mails.rescheduled(row, texts, old_when=old_when)
            )
    capacity_grew = old.capacity is not None and (
        session.capacity is None or session.capacity > old.capacity
    )
    if capacity_grew and session.is_open(now):
        result.promoted = len(_promote(session, actor=actor, now=now))
    free = _free_seats(session)
    if free == 0 and session.capacity is not None:
        taken = Registration.objects.filter(
            session=session, status=Registration.Status.CONFIRMED
        ).count()
        result.over_capacity = max(taken - session.capacity, 0)
    if wants_cancel:
        cancelled = session_cancel(session_id=session.pk, actor=actor, reason="")
        result.cancelled = True
        result.notified += cancelled
        session.refresh_from_db()
    return result


@transaction.atomic
def session_cancel(*, session_id: int, actor, reason: str) -> int:
    """Cancel a session and tell every confirmed and waiting registrant once.

    Returns the number of notices written (0 if it was already cancelled)."""
    now = timezone.now()
    session = _lock_session(session_id)
    if session.is_cancelled:
        return 0
    if session.is_past(now):
        raise PortalError(_("A session that has ended cannot be cancelled."))
    old = session.status
    session.status = Session.Status.CANCELLED
    session.sequence += 1
    session.save(update_fields=["status", "sequence", "updated_at"])
    audit_log(
        actor=actor,
        action="courses.session.cancelled",
        obj=session,
        from_state=old,
        to_state=session.status,
        detail=reason,
    )
    _expire_pending_reminders(
        _reminder_keys(
            Registration.objects.filter(session=session).values_list("pk", flat=True),
            session.sequence - 1,
        ),
        why="session cancelled",
    )
    texts = mails.BulkTexts(session, join=False)
    return _notify_registrants(
        session, lambda row: mails.session_cancelled(row, texts, reason=reason)
    )


@transaction.atomic
def session_duplicate(*, session_id: int, actor, days: int = 7) -> Session:
    """A copy of a session one week later (same topic, series, lecturers, platform, capacity),
    scheduled, without registrations, replay link or attendance."""
    original = Session.objects.get(pk=session_id)
    copy = Session.objects.create(
        title=original.title,
        title_en=original.title_en,
        topic_id=original.topic_id,
        series_id=original.series_id,
        starts_at=original.starts_at + timedelta(days=days),
        ends_at=original.ends_at + timedelta(days=days),
        platform=original.platform,
        platform_en=original.platform_en,
        join_url=original.join_url,
        capacity=original.capacity,
        description=original.description,
        description_en=original.description_en,
        lecturers_en=original.lecturers_en,
        status=Session.Status.SCHEDULED,
    )
    copy.lecturers.set(original.lecturers.all())
    audit_log(
        actor=actor,
        action="courses.session.duplicated",
        obj=copy,
        to_state=copy.status,
        detail=f"copy of session {original.pk}",
    )
    return copy


def sessions_close_finished(*, now: datetime | None = None) -> int:
    """Mark sessions whose end has passed as ended (beat). Re-runnable."""
    now = now or timezone.now()
    closed = 0
    ids = list(
        Session.objects.filter(
            status__in=[Session.Status.SCHEDULED, Session.Status.LIVE], ends_at__lte=now
        ).values_list("pk", flat=True)[:500]
    )
    for session_id in ids:
        with transaction.atomic():
            session = _lock_session(session_id)
            if session.status in (Session.Status.SCHEDULED, Session.Status.LIVE):
                old = session.status
                session.status = Session.Status.ENDED
                session.save(update_fields=["status", "updated_at"])
                audit_log(
                    actor=None,
                    action="courses.session.ended",
                    obj=session,
                    from_state=old,
                    to_state=session.status,
                )
                closed += 1
    return closed
