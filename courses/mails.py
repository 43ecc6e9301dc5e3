"""Texts of the course mails, in the language the person registered in.

Each function returns the arguments of ``outbox_enqueue``. Every course mail is rendered by
``core.mail.render_mail`` from one template pair, ``courses/mail/notice.txt`` and ``.html``,
from blocks of paragraphs and the session's details written here. Keys make every mail go out
once: per registration and status change (``revision``), per session change (``sequence``),
per reminder offset. Mails about a seat carry the session's calendar entry (.ics), made by the
outbox at send time from the ``attachment`` reference (``calendar_attachment``).

Bulk mails (reminders, change notices) are rendered once per session, kind and language with
placeholders (``BulkTexts``), so thousands of them cost string replacement, not template
rendering; they name their ``list_kind`` for the one-click unsubscribe.
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
REMINDER_LIST = "courses.reminder"
CHANGE_LIST = "courses.session"
TEMPLATE = "courses/mail/notice"
CALENDAR = "courses.ics"


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


def item(message: str, url: str = "") -> dict:
    """One line of a mail, ``message % {"url": url}``; the HTML part links the URL."""
    if not url:
        return {"text": message, "url": ""}
    before, _mark, after = (message % {"url": "\x01"}).partition("\x01")
    return {"text": message % {"url": url}, "before": before, "url": url, "after": after}


def paragraph(*items: dict | str) -> dict:
    return {"items": [i if isinstance(i, dict) else item(i) for i in items if i]}


@dataclass
class SessionText:
    """What every mail about one session says, in one language."""

    title: str
    details: dict
    page_url: str

    @classmethod
    def build(cls, session: Session, *, join: bool) -> SessionText:
        lines = [
            item(_("Course: %(title)s") % {"title": session.label}),
            item(_("Time: %(when)s") % {"when": when(session)}),
            item(_("Platform: %(platform)s") % {"platform": session.display_platform}),
        ]
        if join and session.join_url:
            lines.append(item(_("Join link: %(url)s"), session.join_url))
        page_url = link(session.get_absolute_url())
        lines.append(item(_("Course page: %(url)s"), page_url))
        return cls(
            title=session.label, details={"items": lines, "details": True}, page_url=page_url
        )


def calendar_reference(session_id: int, *, join: bool) -> str:
    """The outbox ``attachment`` of a mail carrying the session's calendar entry."""
    return f"{CALENDAR}:{session_id}:{int(bool(join))}"


def calendar_attachment(reference: str):
    """The .ics of ``calendar_reference`` (``core.mail.register_attachment``), made at send
    time in the active language (the mail's): the event as it is now, cancelled included."""
    from . import ics, selectors

    _prefix, session_id, join = reference.split(":")
    # Batches of the same reminder share the file while the session is unchanged.
    version = Session.objects.filter(pk=int(session_id)).values_list(
        "updated_at", "sequence", "status", "starts_at", "ends_at", "join_url", "title"
    )
    cache_key = (reference, translation.get_language(), next(iter(version), None))
    if cache_key[2] is None:
        return None
    if cache_key not in _CALENDARS:
        sessions = list(selectors.calendar_sessions().filter(pk=int(session_id)))
        content = ics.calendar_bytes(
            sessions,
            name=sessions[0].label,
            join_url_for=lambda s: s.join_url if join == "1" else "",
        )
        if len(_CALENDARS) > 200:
            _CALENDARS.clear()
        _CALENDARS[cache_key] = content.decode()
    return (
        f"caq-course-{session_id}.ics",
        _CALENDARS[cache_key],
        "calendar",
        {"method": "PUBLISH"},
    )


_CALENDARS: dict[tuple, str] = {}


def _registration_url(name: str, token: str) -> str:
    """The absolute URL of a registration link (reversed once, then filled in: bulk mails)."""
    key = (name, site.base_url())
    if key not in _URL_TEMPLATES:
        _URL_TEMPLATES[key] = absolute_url(reverse(name, args=["TOKEN"]))
    return _URL_TEMPLATES[key].replace("TOKEN", token)


_URL_TEMPLATES: dict[tuple[str, str], str] = {}


def _links(registration: Registration, *, calendar: bool = True) -> dict:
    return _links_for(links.make(MANAGE_LINK, registration), calendar=calendar)


def _links_for(token: str, *, calendar: bool = True) -> dict:
    lines = []
    if calendar:
        url = _registration_url("courses:registration_ics", token)
        lines.append(item(_("Add it to your calendar (.ics): %(url)s"), url))
    url = mail.with_language(
        _registration_url("courses:registration", token), translation.get_language()
    )
    lines.append(
        item(
            _(
                "Cannot attend? Please cancel so that the next person on the waiting list gets "
                "your seat: %(url)s"
            ),
            url,
        )
    )
    return {"items": lines}


def _compose(
    name: str, subject: str, *blocks: dict | str, lang: str | None = None, list_kind: str = ""
) -> dict:
    """The mail (``render_mail``'s result) of a greeting, blocks and the sign-off, in the
    active language."""
    return mail.render_mail(
        template=TEMPLATE,
        context={
            "subject": subject,
            "greeting": _("Dear %(name)s,") % {"name": name},
            "blocks": [paragraph(b) if isinstance(b, str) else b for b in blocks if b],
            "sign_off": _("China Association for Quality"),
        },
        lang=lang or translation.get_language(),
        list_kind=list_kind,
    )


def _message(registration, *, kind: str, key: str, composed: dict, calendar=None) -> dict:
    message = {
        **composed,
        "key": key,
        "purpose": f"courses.registration.{kind}",
        "to": registration.email,
    }
    if calendar is not None:
        message["attachment"] = calendar_reference(registration.session_id, join=calendar)
    return message


def _reg_key(kind: str, registration: Registration) -> str:
    return f"courses.registration.{kind}:{registration.pk}:{registration.revision}"


def confirm_request(registration: Registration, session: Session) -> dict:
    with translation.override(registration.language):
        url = link(reverse("courses:confirm", args=[links.make(CONFIRM_LINK, registration)]))
        hours = conf.get().confirm_max_age_hours
        composed = _compose(
            registration.name,
            _("Please confirm your registration: %(title)s") % {"title": session.label},
            _("Please confirm your registration for this free live course:"),
            SessionText.build(session, join=False).details,
            paragraph(
                item(
                    _("Confirm your registration (the link is valid for %(hours)d hours): %(url)s")
                    % {"hours": hours, "url": "%(url)s"},
                    url,
                )
            ),
            _("If you did not register, ignore this mail and nothing will happen."),
        )
    return _message(
        registration,
        kind="confirm_request",
        key=_reg_key("confirm_request", registration),
        composed=composed,
    )


def already_registered(registration: Registration, session: Session) -> dict:
    confirmed = registration.status == Registration.Status.CONFIRMED
    with translation.override(registration.language):
        status = Registration.Status(registration.status).label
        composed = _compose(
            registration.name,
            _("You are already registered: %(title)s") % {"title": session.label},
            _(
                "Someone asked to register this address for a course you are already "
                "registered for. Your registration stands; its status is: %(status)s."
            )
            % {"status": status},
            SessionText.build(session, join=confirmed).details,
            _links(registration),
        )
    hour = timezone.now().strftime("%Y%m%d%H")
    return _message(
        registration,
        kind="already_registered",
        key=f"courses.registration.already_registered:{registration.pk}:{hour}",
        composed=composed,
        calendar=confirmed,
    )


def confirmed(registration: Registration, session: Session) -> dict:
    with translation.override(registration.language):
        composed = _compose(
            registration.name,
            _("Registration confirmed: %(title)s") % {"title": session.label},
            _("Your registration for this free live course is confirmed:"),
            SessionText.build(session, join=True).details,
            _links(registration),
        )
    return _message(
        registration,
        kind="confirmed",
        key=_reg_key("confirmed", registration),
        composed=composed,
        calendar=True,
    )


def waiting(registration: Registration, session: Session, *, place: int) -> dict:
    with translation.override(registration.language):
        composed = _compose(
            registration.name,
            _("On the waiting list: %(title)s") % {"title": session.label},
            _(
                "The course is full, so you are on the waiting list, number %(place)d. When a "
                "seat becomes free, the first person on the list gets it and we will write to "
                "you with the join link."
            )
            % {"place": place},
            SessionText.build(session, join=False).details,
            _links(registration, calendar=True),
        )
    return _message(
        registration,
        kind="waiting",
        key=_reg_key("waiting", registration),
        composed=composed,
        calendar=False,
    )


def promoted(registration: Registration, session: Session) -> dict:
    with translation.override(registration.language):
        composed = _compose(
            registration.name,
            _("You have a seat: %(title)s") % {"title": session.label},
            _("A seat has become free and it is yours: your registration is now confirmed."),
            SessionText.build(session, join=True).details,
            _links(registration),
        )
    return _message(
        registration,
        kind="promoted",
        key=_reg_key("promoted", registration),
        composed=composed,
        calendar=True,
    )


def cancelled(registration: Registration, session: Session) -> dict:
    with translation.override(registration.language):
        composed = _compose(
            registration.name,
            _("Registration cancelled: %(title)s") % {"title": session.label},
            _("Your registration for this course is cancelled. Thank you for freeing your seat."),
            SessionText.build(session, join=False).details,
            _("You can register again on the course page while the course is open."),
        )
    return _message(
        registration,
        kind="cancelled",
        key=_reg_key("cancelled", registration),
        composed=composed,
    )


_NAME = "name"
_SIGNED = "signed"


class BulkTexts:
    """Mails to every registrant of one session: each kind of mail is rendered once per
    language with placeholders; a mail then costs a signature and a few replacements."""

    def __init__(self, session: Session, *, join: bool):
        self.session = session
        self.join = join
        self._texts: dict[str, SessionText] = {}
        self._mails: dict[tuple[str, str], dict] = {}

    def get(self, language: str) -> SessionText:
        if language not in self._texts:
            with translation.override(language):
                self._texts[language] = SessionText.build(self.session, join=self.join)
        return self._texts[language]

    def render(self, kind: str, row: dict, compose) -> dict:
        """The mail for ``row`` (``render_mail``'s result); ``compose(text)`` returns it with
        placeholders, in the active language."""
        language = row["language"]
        if (kind, language) not in self._mails:
            with translation.override(language):
                self._mails[kind, language] = compose(self.get(language))
        name = row["name"].replace("\x00", "")
        token = links.token(MANAGE_LINK, pk=row["pk"], key=row["link_key"], at=row["created_at"])
        return mail.fill(self._mails[kind, language], {_NAME: name, _SIGNED: token})


def rescheduled(row: dict, texts: BulkTexts, *, old_when: dict[str, str]) -> dict:
    """``row`` has the registration's pk, name, email, language and status."""
    session = texts.session

    def compose(text: SessionText) -> dict:
        return _compose(
            mail.placeholder(_NAME),
            _("New time: %(title)s") % {"title": text.title},
            _("The time of a course you registered for has changed. It was %(old)s.")
            % {"old": old_when[row["language"]]},
            text.details,
            _links_for(mail.placeholder(_SIGNED)),
            list_kind=CHANGE_LIST,
        )

    return {
        **texts.render("rescheduled", row, compose),
        "key": f"courses.session.rescheduled:{session.pk}:{session.sequence}:{row['pk']}",
        "purpose": "courses.session.rescheduled",
        "to": row["email"],
        "attachment": calendar_reference(
            session.pk, join=row.get("status") == Registration.Status.CONFIRMED
        ),
    }


def session_cancelled(row: dict, texts: BulkTexts, *, reason: str) -> dict:
    session = texts.session

    def compose(text: SessionText) -> dict:
        return _compose(
            mail.placeholder(_NAME),
            _("Cancelled: %(title)s") % {"title": text.title},
            _("We are sorry: a course you registered for has been cancelled."),
            text.details,
            (_("Reason: %(reason)s") % {"reason": reason}) if reason else "",
            paragraph(
                item(
                    _("See the schedule for other free courses: %(url)s"),
                    link(reverse("courses:schedule")),
                )
            ),
            list_kind=CHANGE_LIST,
        )

    return {
        **texts.render("cancelled", row, compose),
        "key": f"courses.session.cancelled:{session.pk}:{row['pk']}",
        "purpose": "courses.session.cancelled",
        "to": row["email"],
        "attachment": calendar_reference(session.pk, join=False),
    }


def reminder(row: dict, texts: BulkTexts, *, offset: int) -> dict:
    session = texts.session

    def compose(text: SessionText) -> dict:
        starts = starts_in(offset)
        return _compose(
            mail.placeholder(_NAME),
            _("Reminder: %(title)s %(starts)s") % {"title": text.title, "starts": starts},
            _("A reminder: your free live course %(starts)s.") % {"starts": starts},
            text.details,
            _links_for(mail.placeholder(_SIGNED)),
            list_kind=REMINDER_LIST,
        )

    return {
        **texts.render(f"reminder:{offset}", row, compose),
        "key": reminder_key(row["pk"], offset, session.sequence),
        "purpose": REMINDER_PURPOSE,
        "to": row["email"],
        "attachment": calendar_reference(session.pk, join=True),
    }


def old_when_texts(session: Session, *, starts_at, ends_at, languages) -> dict[str, str]:
    """The previous time of a moved session, per language."""
    old = Session(starts_at=starts_at, ends_at=ends_at or starts_at + timedelta(hours=1))
    texts = {}
    for language in languages:
        with translation.override(language):
            texts[language] = when(old)
    return texts
