"""Writes of the courses app. Views, admin actions, the attendance import and tasks call these.

Every registration change locks the session row first (``select_for_update``), so seats are
counted and handed out one registration at a time: concurrent registrations for the last seats
of a session queue on that lock and never oversell it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cqa_portal.core.errors import PortalError
from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.services import (
    audit_log,
    outbox_dispatch,
    outbox_enqueue,
    outbox_enqueue_many,
)
from cqa_portal.core.spreadsheets import check_workbook, decode_csv

from . import conf, mails
from .models import AttendanceRecord, Registration, Session

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


# --- helpers -------------------------------------------------------------------------------


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


# --- registration --------------------------------------------------------------------------


def _normalise_email(email: str) -> str:
    return email.strip().lower()


@transaction.atomic
def registration_register_user(*, session_id: int, user, language: str) -> Outcome:
    """One-click registration of a logged-in user (their address is verified at signup)."""
    now = timezone.now()
    session = _lock_session(session_id)
    _check_open(session, now)
    email = _normalise_email(user.email)
    registration = (
        Registration.objects.filter(session=session)
        .filter(Q(user=user) | Q(email=email))
        .order_by("-user_id")
        .first()
    )
    if registration and registration.status in ACTIVE:
        return Outcome(registration=registration, changed=False)
    if registration is None:
        registration = Registration(session=session, email=email, status="")
    registration.user = user
    registration.name = registration.name or user.get_full_name() or email
    registration.language = language
    return _place(registration, session, actor=user, now=now, action="registered")


@transaction.atomic
def registration_request(
    *,
    session_id: int,
    name: str,
    email: str,
    organisation: str,
    language: str,
    consent_at: datetime,
) -> Outcome:
    """A visitor asks to register: the registration waits for the email confirmation link.

    Whatever the state of an existing registration for the address, the visitor sees the same
    answer ("check your mail"), so the form tells nobody who is registered.
    """
    now = timezone.now()
    session = _lock_session(session_id)
    _check_open(session, now)
    email = _normalise_email(email)
    registration = Registration.objects.filter(session=session, email=email).first()
    if registration and registration.status in ACTIVE:
        outbox_enqueue(**mails.already_registered(registration, session))
        return Outcome(registration=registration, changed=False)
    if registration and registration.status == Registration.Status.PENDING:
        # Asked again (the mail was lost?): send a new link, at most every five minutes.
        if registration.updated_at > now - RESEND_INTERVAL:
            return Outcome(registration=registration, changed=False)
        old = registration.status
    else:
        old = registration.status if registration else ""
        registration = registration or Registration(session=session, email=email)
    registration.name = name.strip()
    registration.organisation = organisation.strip()
    registration.language = language
    registration.privacy_consent_at = consent_at
    registration.status = Registration.Status.PENDING
    registration.revision += 1
    registration.save()
    if old != Registration.Status.PENDING:
        audit_log(
            actor=None,
            action="courses.registration.requested",
            obj=registration,
            from_state=old,
            to_state=registration.status,
        )
    outbox_enqueue(**mails.confirm_request(registration, session))
    return Outcome(registration=registration, created=not old)


def _gone() -> PortalError:
    return PortalError(_("This registration no longer exists."), code="not_found")


@transaction.atomic
def registration_confirm(*, registration_id: int) -> Outcome:
    """A visitor follows the (checked) confirmation link. Refusals raise PortalError."""
    session_id = (
        Registration.objects.filter(pk=registration_id).values_list("session_id", flat=True).first()
    )
    if session_id is None:
        raise _gone()
    now = timezone.now()
    session = _lock_session(session_id)
    registration = Registration.objects.get(pk=registration_id)
    if registration.status in ACTIVE:
        place = (
            waiting_place(registration)
            if registration.status == Registration.Status.WAITING
            else None
        )
        return Outcome(registration=registration, changed=False, place=place)
    if registration.status == Registration.Status.CANCELLED:
        raise PortalError(
            _("This registration was cancelled. Please register again."), code="cancelled"
        )
    _check_open(session, now)
    return _place(registration, session, actor=None, now=now, action="confirmed")


@transaction.atomic
def registration_confirmation_resend(*, registration_id: int) -> Registration:
    """A visitor whose confirmation link expired asks for a new one: it goes to the address
    they registered with, at most every five minutes, while the session is open."""
    session_id = (
        Registration.objects.filter(pk=registration_id).values_list("session_id", flat=True).first()
    )
    if session_id is None:
        raise _gone()
    now = timezone.now()
    session = _lock_session(session_id)
    registration = Registration.objects.get(pk=registration_id)
    if registration.status != Registration.Status.PENDING:
        raise PortalError(
            _("This registration needs no confirmation any more."), code="not_pending"
        )
    _check_open(session, now)
    if registration.updated_at > now - RESEND_INTERVAL:
        raise PortalError(
            _(
                "We have sent a confirmation link to this address a few minutes ago. Please "
                "check your mailbox (and the spam folder) or try again later."
            ),
            code="throttled",
        )
    registration.revision += 1
    registration.save(update_fields=["revision", "updated_at"])
    outbox_enqueue(**mails.confirm_request(registration, session))
    return registration


@transaction.atomic
def registration_cancel(*, registration_id: int, actor=None, reason: str = "") -> Outcome:
    """Cancel a registration (its signed link, the person's own page, or staff). Gives a freed
    seat to the first person on the waiting list, who is told by mail."""
    session_id = (
        Registration.objects.filter(pk=registration_id).values_list("session_id", flat=True).first()
    )
    if session_id is None:
        raise _gone()
    now = timezone.now()
    session = _lock_session(session_id)
    registration = Registration.objects.get(pk=registration_id)
    if registration.status == Registration.Status.CANCELLED:
        return Outcome(registration=registration, changed=False)
    if session.is_past(now):
        raise PortalError(_("This session is over; the registration can no longer be changed."))
    old = _set_status(registration, Registration.Status.CANCELLED, now=now)
    registration.save(update_fields=["status", "revision", "cancelled_at", "updated_at"])
    audit_log(
        actor=actor,
        action="courses.registration.cancelled",
        obj=registration,
        from_state=old,
        to_state=registration.status,
        detail=reason,
    )
    _expire_pending_reminders(
        _reminder_keys([registration.pk], session.sequence), why="registration cancelled"
    )
    if old in ACTIVE:
        outbox_enqueue(**mails.cancelled(registration, session))
    if old == Registration.Status.CONFIRMED and not session.is_cancelled:
        _promote(session, actor=actor, now=now)
    return Outcome(registration=registration)


# --- sessions ------------------------------------------------------------------------------


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


# --- reminders -----------------------------------------------------------------------------

REMINDER_CHUNK = 2000  # registrations read (and checked against the ledger) per query


@dataclass
class ReminderRun:
    written: int = 0  # reminders claimed in the ledger by this run (new outbox rows)
    queued: int = 0  # pending reminders handed to batch senders
    batches: int = 0
    expired: int = 0  # pending reminders whose moment passed: never sent late


def reminders_sweep(*, now: datetime | None = None) -> ReminderRun:
    """Write and send the reminders that are due now (beat, every few minutes).

    A reminder for offset *o* is due when ``start - o <= now < start - o + grace``; older ones
    are skipped (the beat was down), never sent late. Each (registration, offset, session
    revision) is claimed once in the outbox by its unique key before anything is sent; the
    outbox sends each claimed mail once, in batches over one SMTP connection, so a re-run or a
    retried batch sends nothing twice. Nothing is scheduled ahead (no eta/countdown).
    """
    now = now or timezone.now()
    grace = conf.get().reminder_grace
    run = ReminderRun()
    run.expired = OutboxMessage.objects.filter(
        purpose=mails.REMINDER_PURPOSE,
        status=OutboxMessage.Status.PENDING,
        created_at__lt=now - grace,
    ).update(status=OutboxMessage.Status.FAILED, last_error="skipped: too late to remind")
    for offset in conf.get().reminder_offsets:
        delta = timedelta(minutes=offset)
        sessions = Session.objects.filter(
            status__in=[Session.Status.SCHEDULED, Session.Status.LIVE],
            starts_at__gt=max(now, now + delta - grace),
            starts_at__lte=now + delta,
        ).select_related("topic")
        for session in sessions:
            with transaction.atomic():
                written, ids = _claim_reminders(session, offset=offset, now=now)
                run.written += written
                run.queued += len(ids)
                run.batches += _send_in_batches(ids)
    return run


def _claim_reminders(session: Session, *, offset: int, now: datetime) -> tuple[int, list[int]]:
    """Write the session's due reminders for one offset into the outbox (the ledger), a chunk
    of registrations at a time; returns how many were written and the ids still to send."""
    due_at = session.starts_at - timedelta(minutes=offset)
    registrations = Registration.objects.filter(
        session=session, status=Registration.Status.CONFIRMED, confirmed_at__lte=due_at
    ).order_by("pk")
    texts = mails.BulkTexts(session, join=True)
    count = 0

    def messages():
        nonlocal count
        last = 0
        while True:
            chunk = list(
                registrations.filter(pk__gt=last).values(
                    "pk", "name", "email", "language", "link_key", "created_at"
                )[:REMINDER_CHUNK]
            )
            if not chunk:
                return
            last = chunk[-1]["pk"]
            keys = {mails.reminder_key(r["pk"], offset, session.sequence): r for r in chunk}
            claimed = set(
                OutboxMessage.objects.filter(key__in=list(keys)).values_list("key", flat=True)
            )
            for key, row in keys.items():
                if key not in claimed:
                    count += 1
                    yield mails.reminder(row, texts, offset=offset)

    ids = outbox_enqueue_many(messages=messages())
    return count, ids


# --- attendance ----------------------------------------------------------------------------


@dataclass
class AttendanceSummary:
    sessions: int = 0
    participants: int = 0
    emails: int = 0
    matched: int = 0


@transaction.atomic
def attendance_record(
    *,
    counts: dict[int, int],
    emails: dict[int, list[str]],
    actor,
) -> AttendanceSummary:
    """Replace the recorded attendance of the given sessions.

    ``counts`` maps a session id to its participant count; ``emails`` maps a session id to the
    attendee emails (each counts once and is linked to the matching registration). Re-importing
    a session's attendance replaces what was recorded before.
    """
    summary = AttendanceSummary()
    session_ids = sorted(set(counts) | set(emails))
    sessions = {s.pk: s for s in Session.objects.select_for_update().filter(pk__in=session_ids)}
    AttendanceRecord.objects.filter(session_id__in=session_ids).delete()
    registrations = {
        (session_id, email): pk
        for pk, session_id, email in Registration.objects.filter(
            session_id__in=list(emails)
        ).values_list("pk", "session_id", "email")
    }
    records = []
    for session_id in session_ids:
        session = sessions[session_id]
        if session_id in counts:
            records.append(AttendanceRecord(session=session, participants=counts[session_id]))
            total, detail = counts[session_id], "count"
        else:
            unique = sorted({_normalise_email(e) for e in emails[session_id]})
            matched = 0
            for email in unique:
                registration_id = registrations.get((session_id, email))
                matched += registration_id is not None
                records.append(
                    AttendanceRecord(
                        session=session,
                        email=email,
                        participants=1,
                        registration_id=registration_id,
                    )
                )
            total, detail = len(unique), f"{len(unique)} emails, {matched} matched registrations"
            summary.emails += len(unique)
            summary.matched += matched
        summary.sessions += 1
        summary.participants += total
        audit_log(
            actor=actor,
            action="courses.session.attendance_recorded",
            obj=session,
            to_state=str(total),
            detail=detail,
        )
    AttendanceRecord.objects.bulk_create(records, batch_size=1000)
    return summary


@dataclass
class AttendanceImport:
    ok: bool
    errors: list[str]
    summary: AttendanceSummary | None = None


def attendance_import(*, data: bytes, file_format: str, actor, dry_run: bool = False):
    """Import an attendance file (``csv`` or ``xlsx``): all rows or nothing.

    Returns the problems with their row numbers (1 = the first row under the header)."""
    from import_export.formats.base_formats import CSV, XLSX

    from .resources import AttendanceResource

    formats = {"csv": CSV, "xlsx": XLSX}
    if file_format not in formats:
        return AttendanceImport(ok=False, errors=[str(_("Use a CSV or XLSX file."))])
    try:
        if file_format == "csv":
            text = decode_csv(data) if isinstance(data, bytes) else data
            dataset = formats["csv"]().create_dataset(text)
        else:
            check_workbook(data)
            dataset = formats["xlsx"]().create_dataset(data)
    except ValidationError as exc:
        return AttendanceImport(ok=False, errors=[str(m) for m in exc.messages])
    except Exception:  # noqa: BLE001 - any unreadable file gets the same clear answer
        return AttendanceImport(ok=False, errors=[str(_("The file could not be read."))])
    resource = AttendanceResource()
    result = resource.import_data(
        dataset,
        dry_run=dry_run,
        use_transactions=True,
        rollback_on_validation_errors=True,
        user=actor,
    )
    errors = [str(error.error) for error in result.base_errors]
    for number, row_errors in result.row_errors():
        errors.extend(
            str(_("Row %(row)d: %(error)s") % {"row": number, "error": e.error}) for e in row_errors
        )
    for row in result.invalid_rows:
        for messages in row.error_dict.values():
            errors.extend(
                str(_("Row %(row)d: %(error)s") % {"row": row.number, "error": message})
                for message in messages
            )
    return AttendanceImport(ok=not errors, errors=errors, summary=resource.summary)
