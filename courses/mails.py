"""Texts of the course mails, in the language the person registered in.

Each function returns the arguments of ``outbox_enqueue`` (key, purpose, to, subject, body).
Keys make every mail go out once: per registration and status change (``revision``), per
session change (``sequence``), per reminder offset.

Bulk mails (reminders, change notices) are built from a ``SessionText`` made once per session
and language, so thousands of them cost string formatting, not template rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from cqa_portal.core import links, mail, site
from cqa_portal.core.site import absolute_url

from . import conf
from .models import CONFIRM_LINK, MANAGE_LINK, Registration, Session

REMINDER_PURPOSE = "courses.reminder"


def reminder_key(registration_id: int, offset: int, sequence: int) -> str:
    """Ledger key of one reminder. ``sequence`` changes when the session is moved, so a moved
    session gets its reminders again at the new time."""
    return f"courses.reminder:{registration_id}:{offset}:{sequence}"


def link(path: str) -> str:
    """The absolute URL of a page, opening in the active language (the mail's)."""
    return mail.with_language(absolute_url(path), translation.get_language())


def when(session: Session, *, zone: bool = True) -> str:
    """Date, weekday and time in Beijing time, in the active language."""
    start = timezone.localtime(session.starts_at)
    end = timezone.localtime(session.ends_at)
    day = date_format(start, "DATE_FORMAT")
    weekday = date_format(start, "l")
    if start.date() == end.date():
        span = f"{start:%H:%M}–{end:%H:%M}"
    else:
        span = f"{start:%H:%M} – {date_format(end, 'DATE_FORMAT')} {end:%H:%M}"
    values = {"day": day, "weekday": weekday, "span": span}
    if not zone:
        return _("%(day)s (%(weekday)s) %(span)s") % values
    return _("%(day)s (%(weekday)s) %(span)s, Beijing time") % values


def starts_in(minutes: int) -> str:
    """ "starts tomorrow", "starts in one hour"... in the active language."""
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        if days == 1:
            return _("starts tomorrow")
        return _("starts in %(count)d days") % {"count": days}
    if minutes % 60 == 0:
        hours = minutes // 60
        if hours == 1:
            return _("starts in one hour")
        return _("starts in %(count)d hours") % {"count": hours}
    return _("starts in %(count)d minutes") % {"count": minutes}


@dataclass
class SessionText:
    """What every mail about one session says, in one language."""

    title: str
    details: str
    page_url: str

    @classmethod
    def build(cls, session: Session, *, join: bool) -> SessionText:
        lines = [
            _("Course: %(title)s") % {"title": session.label},
            _("Time: %(when)s") % {"when": when(session)},
            _("Platform: %(platform)s") % {"platform": session.display_platform},
        ]
        if join and session.join_url:
            lines.append(_("Join link: %(url)s") % {"url": session.join_url})
        page_url = link(session.get_absolute_url())
        lines.append(_("Course page: %(url)s") % {"url": page_url})
        return cls(
            title=session.label, details="\n".join(f"  {line}" for line in lines), page_url=page_url
        )


def _registration_url(name: str, token: str) -> str:
    """The absolute URL of a registration link (reversed once, then filled in: bulk mails)."""
    key = (name, site.base_url())
    if key not in _URL_TEMPLATES:
        _URL_TEMPLATES[key] = absolute_url(reverse(name, args=["TOKEN"]))
    return _URL_TEMPLATES[key].replace("TOKEN", token)


_URL_TEMPLATES: dict[tuple[str, str], str] = {}


def _links(registration: Registration, *, calendar: bool = True) -> str:
    return _links_for(links.make(MANAGE_LINK, registration), calendar=calendar)


def _links_for(token: str, *, calendar: bool = True) -> str:
    lines = []
    if calendar:
        url = _registration_url("courses:registration_ics", token)
        lines.append(_("Add it to your calendar (.ics): %(url)s") % {"url": url})
    url = mail.with_language(
        _registration_url("courses:registration", token), translation.get_language()
    )
    lines.append(
        _(
            "Cannot attend? Please cancel so that the next person on the waiting list gets "
            "your seat: %(url)s"
        )
        % {"url": url}
    )
    return "\n".join(lines)


def _compose(name: str, *paragraphs: str) -> str:
    greeting = _("Dear %(name)s,") % {"name": name}
    sign_off = _("China Association for Quality")
    return "\n\n".join([greeting, *[p for p in paragraphs if p], sign_off]) + "\n"


def _message(registration, *, kind: str, key: str, subject: str, body: str) -> dict:
    return {
        "key": key,
        "purpose": f"courses.registration.{kind}",
        "to": registration.email,
        "subject": subject,
        "body": body,
    }


def _reg_key(kind: str, registration: Registration) -> str:
    return f"courses.registration.{kind}:{registration.pk}:{registration.revision}"


def confirm_request(registration: Registration, session: Session) -> dict:
    with translation.override(registration.language):
        url = link(reverse("courses:confirm", args=[links.make(CONFIRM_LINK, registration)]))
        hours = conf.get().confirm_max_age_hours
        body = _compose(
            registration.name,
            _("Please confirm your registration for this free live course:"),
            SessionText.build(session, join=False).details,
            _("Confirm your registration (the link is valid for %(hours)d hours): %(url)s")
            % {"hours": hours, "url": url},
            _("If you did not register, ignore this mail and nothing will happen."),
        )
        subject = _("Please confirm your registration: %(title)s") % {"title": session.label}
    return _message(
        registration,
        kind="confirm_request",
        key=_reg_key("confirm_request", registration),
        subject=subject,
        body=body,
    )


def already_registered(registration: Registration, session: Session) -> dict:
    with translation.override(registration.language):
        status = Registration.Status(registration.status).label
        body = _compose(
            registration.name,
            _(
                "Someone asked to register this address for a course you are already "
                "registered for. Your registration stands; its status is: %(status)s."
            )
            % {"status": status},
            SessionText.build(
                session, join=registration.status == Registration.Status.CONFIRMED
            ).details,
            _links(registration),
        )
        subject = _("You are already registered: %(title)s") % {"title": session.label}
    hour = timezone.now().strftime("%Y%m%d%H")
    return _message(
        registration,
        kind="already_registered",
        key=f"courses.registration.already_registered:{registration.pk}:{hour}",
        subject=subject,
        body=body,
    )


def confirmed(registration: Registration, session: Session) -> dict:
    with translation.override(registration.language):
        body = _compose(
            registration.name,
            _("Your registration for this free live course is confirmed:"),
            SessionText.build(session, join=True).details,
            _links(registration),
        )
        subject = _("Registration confirmed: %(title)s") % {"title": session.label}
    return _message(
        registration,
        kind="confirmed",
        key=_reg_key("confirmed", registration),
        subject=subject,
        body=body,
    )


def waiting(registration: Registration, session: Session, *, place: int) -> dict:
    with translation.override(registration.language):
        body = _compose(
            registration.name,
            _(
                "The course is full, so you are on the waiting list, number %(place)d. When a "
                "seat becomes free, the first person on the list gets it and we will write to "
                "you with the join link."
            )
            % {"place": place},
            SessionText.build(session, join=False).details,
            _links(registration, calendar=True),
        )
        subject = _("On the waiting list: %(title)s") % {"title": session.label}
    return _message(
        registration,
        kind="waiting",
        key=_reg_key("waiting", registration),
        subject=subject,
        body=body,
    )


def promoted(registration: Registration, session: Session) -> dict:
    with translation.override(registration.language):
        body = _compose(
            registration.name,
            _("A seat has become free and it is yours: your registration is now confirmed."),
            SessionText.build(session, join=True).details,
            _links(registration),
        )
        subject = _("You have a seat: %(title)s") % {"title": session.label}
    return _message(
        registration,
        kind="promoted",
        key=_reg_key("promoted", registration),
        subject=subject,
        body=body,
    )


def cancelled(registration: Registration, session: Session) -> dict:
    with translation.override(registration.language):
        body = _compose(
            registration.name,
            _("Your registration for this course is cancelled. Thank you for freeing your seat."),
            SessionText.build(session, join=False).details,
            _("You can register again on the course page while the course is open."),
        )
        subject = _("Registration cancelled: %(title)s") % {"title": session.label}
    return _message(
        registration,
        kind="cancelled",
        key=_reg_key("cancelled", registration),
        subject=subject,
        body=body,
    )


_NAME = "\x00name\x00"
_SIGNED = "\x00signed\x00"


class BulkTexts:
    """Mails to every registrant of one session: each kind of mail is composed once per
    language with placeholders; a mail then costs a signature and two replacements."""

    def __init__(self, session: Session, *, join: bool):
        self.session = session
        self.join = join
        self._texts: dict[str, SessionText] = {}
        self._mails: dict[tuple[str, str], tuple[str, str]] = {}

    def get(self, language: str) -> SessionText:
        if language not in self._texts:
            with translation.override(language):
                self._texts[language] = SessionText.build(self.session, join=self.join)
        return self._texts[language]

    def render(self, kind: str, row: dict, compose) -> tuple[str, str]:
        """Subject and body for ``row``; ``compose(text)`` returns them with placeholders,
        in the active language."""
        language = row["language"]
        if (kind, language) not in self._mails:
            with translation.override(language):
                self._mails[kind, language] = compose(self.get(language))
        subject, body = self._mails[kind, language]
        name = row["name"].replace("\x00", "")
        token = links.token(MANAGE_LINK, pk=row["pk"], key=row["link_key"], at=row["created_at"])
        return subject, body.replace(_NAME, name).replace(_SIGNED, token)


def rescheduled(row: dict, texts: BulkTexts, *, old_when: dict[str, str]) -> dict:
    """``row`` has the registration's pk, name, email and language."""
    session = texts.session

    def compose(text: SessionText) -> tuple[str, str]:
        body = _compose(
            _NAME,
            _("The time of a course you registered for has changed. It was %(old)s.")
            % {"old": old_when[row["language"]]},
            text.details,
            _links_for(_SIGNED),
        )
        return _("New time: %(title)s") % {"title": text.title}, body

    subject, body = texts.render("rescheduled", row, compose)
    return {
        "key": f"courses.session.rescheduled:{session.pk}:{session.sequence}:{row['pk']}",
        "purpose": "courses.session.rescheduled",
        "to": row["email"],
        "subject": subject,
        "body": body,
    }


def session_cancelled(row: dict, texts: BulkTexts, *, reason: str) -> dict:
    session = texts.session

    def compose(text: SessionText) -> tuple[str, str]:
        body = _compose(
            _NAME,
            _("We are sorry: a course you registered for has been cancelled."),
            text.details,
            (_("Reason: %(reason)s") % {"reason": reason}) if reason else "",
            _("See the schedule for other free courses: %(url)s")
            % {"url": link(reverse("courses:schedule"))},
        )
        return _("Cancelled: %(title)s") % {"title": text.title}, body

    subject, body = texts.render("cancelled", row, compose)
    return {
        "key": f"courses.session.cancelled:{session.pk}:{row['pk']}",
        "purpose": "courses.session.cancelled",
        "to": row["email"],
        "subject": subject,
        "body": body,
    }


def reminder(row: dict, texts: BulkTexts, *, offset: int) -> dict:
    session = texts.session

    def compose(text: SessionText) -> tuple[str, str]:
        starts = starts_in(offset)
        body = _compose(
            _NAME,
            _("A reminder: your free live course %(starts)s.") % {"starts": starts},
            text.details,
            _links_for(_SIGNED),
        )
        subject = _("Reminder: %(title)s %(starts)s") % {"title": text.title, "starts": starts}
        return subject, body

    subject, body = texts.render(f"reminder:{offset}", row, compose)
    return {
        "key": reminder_key(row["pk"], offset, session.sequence),
        "purpose": REMINDER_PURPOSE,
        "to": row["email"],
        "subject": subject,
        "body": body,
    }


def old_when_texts(session: Session, *, starts_at, ends_at, languages) -> dict[str, str]:
    """The previous time of a moved session, per language."""
    old = Session(starts_at=starts_at, ends_at=ends_at or starts_at + timedelta(hours=1))
    texts = {}
    for language in languages:
        with translation.override(language):
            texts[language] = when(old)
    return texts
