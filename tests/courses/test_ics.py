from datetime import timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar
from icalendar.parser.property import unescape_backslash

from courses import services
from courses.models import Session
from tests.factories import StaffFactory

from .factories import LecturerFactory, SeriesFactory, SessionFactory, TopicFactory

pytestmark = pytest.mark.django_db


def _parse(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    raw = response.content
    # RFC 5545: CRLF line ends, lines folded at 75 octets.
    assert b"\r\n" in raw
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    return Calendar.from_ical(raw)


def _events(calendar):
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def test_feed_lists_every_session_with_stable_uid_and_timezone(client):
    topic = TopicFactory(name="全面质量管理")
    march = timezone.make_aware(timezone.datetime(2020, 3, 5, 14, 30))
    session = SessionFactory(
        topic=topic,
        starts_at=march,
        ends_at=march + timedelta(minutes=90),
        series=SeriesFactory(topic=topic),
        lecturers=[LecturerFactory(name="张卓越", organisation="某研究院")],
    )
    SessionFactory.create_batch(2)
    calendar = _parse(client.get("/courses/calendar.ics"))
    assert calendar["VERSION"] == "2.0"
    assert "PRODID" in calendar
    [tz] = calendar.walk("VTIMEZONE")
    assert str(tz["TZID"]) == "Asia/Shanghai"
    events = _events(calendar)
    assert len(events) == 3
    uid = f"{session.uid}@courses.caq.example.org"
    event = events[uid]
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    start = event.decoded("DTSTART")
    assert (start.year, start.month, start.day, start.hour, start.minute) == (2020, 3, 5, 14, 30)
    assert start == march
    assert event.decoded("DTEND") - start == timedelta(minutes=90)
    assert "DTSTAMP" in event
    assert str(event["STATUS"]) == "CONFIRMED"
    assert "张卓越" in str(event["DESCRIPTION"])
    assert session.join_url not in str(event["DESCRIPTION"])  # public feed: no join link

    # Same UID next time, whatever changed.
    session.title = "全面质量管理（修订）"
    services.session_save(session=session, actor=StaffFactory())
    again = _events(_parse(client.get("/courses/calendar.ics")))
    assert str(again[uid]["SUMMARY"]) == "全面质量管理（修订）"


def test_text_is_escaped_and_parses_back_exactly(client):
    title = "质量工具; 第一讲, 鱼骨图\\因果图"
    description = "第一行\n第二行：PDCA, 5W1H; 其他"
    session = SessionFactory(title=title, description=description)
    raw = client.get(f"/courses/{session.pk}/calendar.ics").content.decode()
    unfolded = raw.replace("\r\n ", "")
    assert "SUMMARY:质量工具\\; 第一讲\\, 鱼骨图\\\\因果图" in unfolded
    [event] = Calendar.from_ical(raw).walk("VEVENT")
    assert str(event["SUMMARY"]) == title
    assert str(event["DESCRIPTION"]).endswith(description)


def test_cancelled_session_is_marked_cancelled_with_a_higher_sequence(client):
    session = SessionFactory()
    before = _events(_parse(client.get(f"/courses/{session.pk}/calendar.ics")))
    [event] = before.values()
    assert int(event["SEQUENCE"]) == 0
    services.session_cancel(session_id=session.pk, actor=StaffFactory(), reason="讲师临时有事")
    after = _parse(client.get(f"/courses/{session.pk}/calendar.ics"))
    [cancelled] = after.walk("VEVENT")
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert str(cancelled["UID"]) == str(event["UID"])
    assert int(cancelled["SEQUENCE"]) == 1
    assert "STATUS:CANCELLED" in client.get("/courses/calendar.ics").content.decode()


def test_moved_session_keeps_uid_and_raises_sequence(client):
    session = SessionFactory()
    session.starts_at += timedelta(days=1)
    session.ends_at += timedelta(days=1)
    services.session_save(session=session, actor=StaffFactory())
    [event] = _parse(client.get(f"/courses/{session.pk}/calendar.ics")).walk("VEVENT")
    assert int(event["SEQUENCE"]) == 1
    assert event.decoded("DTSTART") == session.starts_at.replace(microsecond=0)


def test_session_file_is_a_download_and_feed_is_inline(client):
    session = SessionFactory()
    single = client.get(f"/courses/{session.pk}/calendar.ics")
    assert single["Content-Disposition"].startswith("attachment;")
    feed = client.get("/courses/calendar.ics")
    assert feed["Content-Disposition"].startswith("inline;")
    assert client.get("/courses/424242/calendar.ics").status_code == 404


def test_feed_can_be_limited_to_one_topic(client):
    tools = TopicFactory(slug="tools")
    SessionFactory(topic=tools, title="质量工具专场")
    SessionFactory(title="别的主题")
    events = _parse(client.get("/courses/calendar.ics?topic=tools")).walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == ["质量工具专场"]


def test_feed_query_count_does_not_grow(client, django_assert_num_queries):
    SessionFactory.create_batch(2, lecturers=[LecturerFactory()])
    with django_assert_num_queries(2):
        client.get("/courses/calendar.ics")
    SessionFactory.create_batch(30, lecturers=[LecturerFactory()])
    with django_assert_num_queries(2):
        client.get("/courses/calendar.ics")


def test_english_feed(client):
    SessionFactory(
        title="质量工程", title_en="Quality engineering", status=Session.Status.SCHEDULED
    )
    client.cookies["django_language"] = "en"
    [event] = _parse(client.get("/courses/calendar.ics")).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Quality engineering"
    assert "Course page:" in str(event["DESCRIPTION"])


TITLE = "The seven basic quality tools, part 1"


@pytest.mark.parametrize(
    "title",
    [TITLE, "Tools; part 2", "Back\\slash", "质量工具，第一讲"],
)
def test_calendar_name_is_escaped_and_survives_parsing(client, title):
    session = SessionFactory(title=title, title_en=title)
    raw = client.get(f"/courses/{session.pk}/calendar.ics").content
    calendar = Calendar.from_ical(raw)
    for name in ("NAME", "X-WR-CALNAME"):
        # Both are TEXT (icalendar leaves them raw): a client unescapes them as such.
        assert unescape_backslash(str(calendar[name])) == title
    assert str(calendar.walk("VEVENT")[0]["SUMMARY"]) == title
    if "," in title:
        assert b"NAME:The seven basic quality tools\\, part 1" in raw


def test_calendar_name_with_a_line_break_is_one_escaped_line():
    from courses import ics

    raw = ics.calendar_bytes([], name="Line one\nline two, three")
    calendar = Calendar.from_ical(raw)
    assert unescape_backslash(str(calendar["NAME"])) == "Line one\nline two, three"


@pytest.mark.parametrize("query", ["topic=no-such-topic", "series=no-such-series"])
def test_feed_of_an_unknown_topic_or_series_is_404_with_a_message(client, query):
    SessionFactory(title="别的主题")
    response = client.get(f"/courses/calendar.ics?{query}")
    assert response.status_code == 404
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    body = response.content.decode()
    assert "no-such-" in body and "没有" in body
    assert "别的主题" not in body and "BEGIN:VCALENDAR" not in body
