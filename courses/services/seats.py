"""Seats and waiting lists of a locked session, and the mails sent to its registrants."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max
from django.utils.translation import gettext_lazy as _

from cqa_portal.core.errors import PortalError
from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.services import audit_log, outbox_dispatch, outbox_enqueue, outbox_enqueue_many

from .. import conf, mails
from ..models import Registration, Session

ACTIVE = (Registration.Status.CONFIRMED, Registration.Status.WAITING)
# A pending registration gets its confirmation mail again at most this often.
RESEND_INTERVAL = timedelta(minutes=5)


@dataclass
class Outcome:
    registration: Registration
    created: bool = False
    changed: bool = True
    place: int | None = None  # place on the waiting list

    @property
    def status(self) -> str:
        return self.registration.status


def _lock_session(session_id: int) -> Session:
    return Session.objects.select_for_update().get(pk=session_id)


def _check_open(session: Session, now: datetime) -> None:
    if session.is_cancelled:
        raise PortalError(
            _("This session has been cancelled; registration is closed."), code="closed"
        )
    if session.is_past(now):
        raise PortalError(_("This session is over; registration is closed."), code="closed")


def _free_seats(session: Session) -> int | None:
    """Free seats, or None for unlimited. Call with the session locked."""
    if session.capacity is None:
        return None
    taken = Registration.objects.filter(
        session=session, status=Registration.Status.CONFIRMED
    ).count()
    return max(session.capacity - taken, 0)


def waiting_place(registration: Registration) -> int:
    """1 for the first person on the waiting list."""
    return (
        Registration.objects.filter(
            session_id=registration.session_id,
            status=Registration.Status.WAITING,
            position__lt=registration.position,
        ).count()
        + 1
    )


def _set_status(registration: Registration, status: str, *, now: datetime) -> str:
    old = registration.status
    registration.status = status
    registration.revision += 1
    if status == Registration.Status.CONFIRMED:
        registration.confirmed_at = now
    if status == Registration.Status.CANCELLED:
        registration.cancelled_at = now
    return old


def _place(
    registration: Registration, session: Session, *, actor, now: datetime, action: str
) -> Outcome:
    """Give the registration a seat if one is free, else the end of the waiting list.

    The session must be locked. Writes the registration, the audit entry and the mail.
    """
    position = (
        Registration.objects.filter(session=session).aggregate(top=Max("position"))["top"] or 0
    )
    registration.position = position + 1
    free = _free_seats(session)
    if free:
        # Seats free while people wait (capacity raised outside the admin): serve them first.
        free -= len(_promote(session, actor=None, now=now))
    status = (
        Registration.Status.CONFIRMED if free is None or free > 0 else Registration.Status.WAITING
    )
    old = _set_status(registration, status, now=now)
    registration.save()
    audit_log(
        actor=actor,
        action=f"courses.registration.{action}",
        obj=registration,
        from_state=old,
        to_state=status,
    )
    place = None
    if status == Registration.Status.CONFIRMED:
        outbox_enqueue(**mails.confirmed(registration, session))
    else:
        place = waiting_place(registration)
        outbox_enqueue(**mails.waiting(registration, session, place=place))
    return Outcome(registration=registration, created=old == "", place=place)


def _promote(session: Session, *, actor, now: datetime) -> list[Registration]:
    """Fill free seats from the waiting list, first come first served. Session locked."""
    free = _free_seats(session)
    queue = Registration.objects.filter(
        session=session, status=Registration.Status.WAITING
    ).order_by("position", "created_at", "pk")
    if free is not None:
        queue = queue[:free]
    promoted = list(queue)
    for registration in promoted:
        old = _set_status(registration, Registration.Status.CONFIRMED, now=now)
        registration.save(update_fields=["status", "revision", "confirmed_at", "updated_at"])
        audit_log(
            actor=actor,
            action="courses.registration.promoted",
            obj=registration,
            from_state=old,
            to_state=registration.status,
        )
        outbox_enqueue(**mails.promoted(registration, session))
    return promoted


def _send_in_batches(message_ids: list[int]) -> int:
    """After commit, send the mails in chunks, each over one SMTP connection (mail queue)."""
    return outbox_dispatch(
        message_ids=message_ids,
        batch_size=conf.get().mail_batch_size,
        window=conf.get().mail_claim_window,
    )


def _expire_pending_reminders(keys: Iterable[str], *, why: str) -> int:
    """Reminders written but not sent yet that must not go out any more."""
    keys = list(keys)
    expired = 0
    for start in range(0, len(keys), 500):
        expired += OutboxMessage.objects.filter(
            key__in=keys[start : start + 500], status=OutboxMessage.Status.PENDING
        ).update(status=OutboxMessage.Status.FAILED, last_error=why)
    return expired


def _reminder_keys(registration_ids: Iterable[int], sequence: int) -> list[str]:
    offsets = conf.get().reminder_offsets
    return [mails.reminder_key(pk, o, sequence) for pk in registration_ids for o in offsets]


def _notify_registrants(session: Session, build) -> int:
    """Write one mail per confirmed or waiting registrant (in batches) and send after commit."""
    rows = (
        Registration.objects.filter(session=session, status__in=ACTIVE)
        .order_by("pk")
        .values("pk", "name", "email", "language", "status", "link_key", "created_at")
    )
    ids = outbox_enqueue_many(messages=(build(row) for row in rows.iterator(chunk_size=2000)))
    _send_in_batches(ids)
    return len(ids)
