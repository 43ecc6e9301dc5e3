"""iCalendar (RFC 5545) files of the schedule, built with the ``icalendar`` library, which does
the escaping, line folding and the VTIMEZONE component."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vText

from cqa_portal.core.site import absolute_url

from . import conf
from .models import Session
from .templatetags.courses import lecturers_of

PRODID = "-//China Association for Quality//Free live courses//ZH"


def event_uid(session: Session) -> str:
    """Stable for the life of the session, whatever changes: calendars update the event."""
    return f"{session.uid}@{conf.get().calendar_domain}"


def session_event(session: Session, *, join_url: str = "", stamp: datetime) -> Event:
    page_url = absolute_url(session.get_absolute_url())
    cancelled = session.status == Session.Status.CANCELLED
    summary = session.label
    if cancelled:
        summary = _("Cancelled: %(title)s") % {"title": summary}

    lines = [_("Topic: %(topic)s") % {"topic": session.topic.label}]
    if session.series_id:
        lines.append(_("Series: %(series)s") % {"series": session.series.label})
    names = lecturers_of(session)
    if names:
        lines.append(_("Lecturers: %(names)s") % {"names": names})
    lines.append(_("Platform: %(platform)s") % {"platform": session.display_platform})
    if join_url:
        lines.append(_("Join link: %(url)s") % {"url": join_url})
    if session.replay_url:
        lines.append(_("Replay: %(url)s") % {"url": session.replay_url})
    lines.append(_("Course page: %(url)s") % {"url": page_url})
    if session.display_description:
        lines.extend(["", session.display_description.strip()])

    event = Event()
    event.add("uid", event_uid(session))
    event.add("dtstamp", stamp)
    event.add("created", session.created_at.astimezone(UTC))
    event.add("last-modified", session.updated_at.astimezone(UTC))
    event.add("sequence", session.sequence)
    event.add("dtstart", timezone.localtime(session.starts_at))
    event.add("dtend", timezone.localtime(session.ends_at))
    event.add("summary", summary)
    event.add("description", "\n".join(lines))
    event.add(
        "location",
        f"{session.display_platform} {join_url}".strip() if join_url else session.display_platform,
    )
    event.add("url", page_url)
    event.add("categories", [session.topic.label])
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


def calendar_bytes(
    sessions: Iterable[Session],
    *,
    name: str,
    join_url_for: Callable[[Session], str] | None = None,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # icalendar does not know these two as TEXT properties (RFC 7986, and Apple's extension):
    # vText escapes commas, semicolons, backslashes and line breaks as RFC 5545 requires.
    calendar.add("name", vText(name))
    calendar.add("x-wr-calname", vText(name))
    calendar.add("x-wr-timezone", timezone.get_current_timezone_name())
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    stamp = datetime.now(UTC).replace(microsecond=0)
    for session in sessions:
        join_url = join_url_for(session) if join_url_for else ""
        calendar.add_component(session_event(session, join_url=join_url, stamp=stamp))
    # Beijing time has had no daylight saving since 1991: one STANDARD block is enough.
    calendar.add_missing_timezones(first_date=date(2000, 1, 1))
    return calendar.to_ical()
