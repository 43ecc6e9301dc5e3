"""Writes for registrations: register, request, confirm, resend and cancel."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cqa_portal.core import privacy
from cqa_portal.core.errors import PortalError
from cqa_portal.core.services import audit_log, outbox_enqueue

from .. import mails
from ..models import Registration, Session
from .seats import (
    ACTIVE,
    RESEND_INTERVAL,
    Outcome,
    _check_open,
    _expire_pending_reminders,
    _lock_session,
    _place,
    _promote,
    _reminder_keys,
    _set_status,
    waiting_place,
)


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
    registration.privacy_consent_version = privacy.version()
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


def _locked(registration_id: int) -> tuple[Session, Registration]:
    """The registration's session, locked (seats are counted under this lock), and the
    registration read after the lock; PortalError if the registration is gone."""
    session_id = (
        Registration.objects.filter(pk=registration_id).values_list("session_id", flat=True).first()
    )
    if session_id is None:
        raise _gone()
    session = _lock_session(session_id)
    return session, Registration.objects.get(pk=registration_id)


@transaction.atomic
def registration_confirm(*, registration_id: int) -> Outcome:
    """A visitor follows the (checked) confirmation link. Refusals raise PortalError."""
    session, registration = _locked(registration_id)
    now = timezone.now()
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
    session, registration = _locked(registration_id)
    now = timezone.now()
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
    session, registration = _locked(registration_id)
    now = timezone.now()
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
