from datetime import timedelta

import pytest
from django.utils import timezone

from courses.models import Registration, Session
from tests.factories import UserFactory

from .factories import (
    AttendanceFactory,
    LecturerFactory,
    RegistrationFactory,
    SeriesFactory,
    SessionFactory,
    TopicFactory,
)

pytestmark = pytest.mark.django_db


def _past(**kwargs):
    start = timezone.now() - timedelta(days=kwargs.pop("days_ago", 10))
    kwargs.setdefault("status", Session.Status.ENDED)
    return SessionFactory(starts_at=start, ends_at=start + timedelta(hours=1), **kwargs)


def test_schedule_in_chinese_lists_upcoming_then_past_with_replays(client):
    lecturer = LecturerFactory(name="李质量", organisation="某汽车集团")
    upcoming = SessionFactory(title="即将开讲：QC七大手法", lecturers=[lecturer])
    past = _past(title="已结束：卓越绩效模式导读", replay_url="https://replay.example.com/1")
    response = client.get("/courses/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-Hans">' in html
    assert "公益直播课程安排" in html
    assert html.index(upcoming.title) < html.index(past.title)
    assert "李质量" in html
    assert 'href="https://replay.example.com/1"' in html
    assert "观看回放" in html


def test_schedule_in_english(client):
    SessionFactory(title="质量工程", title_en="Quality engineering basics")
    client.cookies["django_language"] = "en"
    html = client.get("/courses/").content.decode()
    assert '<html lang="en">' in html
    assert "Free live course schedule" in html
    assert "Quality engineering basics" in html
    assert "participant-times" in html


def test_banner_counts_held_sessions_and_recorded_participants(client):
    for count in (3000, 4500):
        AttendanceFactory(session=_past(), participants=count)
    _past(status=Session.Status.CANCELLED)  # never held
    SessionFactory()  # upcoming
    response = client.get("/courses/")
    assert response.context["totals"] == {"held": 2, "participants": 7500}
    html = response.content.decode()
    assert 'id="sessions-held">2<' in html
    assert 'id="participant-times">7500<' in html  # Chinese groups no thousands
    client.cookies["django_language"] = "en"
    assert 'id="participant-times">7,500<' in client.get("/courses/").content.decode()


def test_filters_by_topic_series_and_month(client):
    tqm = TopicFactory(slug="tqm", name="全面质量管理", name_en="Total quality management")
    tools = TopicFactory(slug="tools", name="质量工具", name_en="Quality tools")
    series = SeriesFactory(slug="qc-basics", topic=tools)
    in_march = timezone.make_aware(timezone.datetime(2020, 3, 5, 14, 30))
    in_feb = timezone.make_aware(timezone.datetime(2020, 2, 20, 14, 30))
    a = SessionFactory(
        topic=tqm, title="全面质量管理概论", starts_at=in_feb, ends_at=in_feb + timedelta(hours=1)
    )
    b = SessionFactory(
        topic=tools,
        series=series,
        title="QC七大手法",
        starts_at=in_march,
        ends_at=in_march + timedelta(hours=1),
    )
    c = SessionFactory(topic=tools, title="质量工具未来场")

    def titles(query):
        response = client.get("/courses/" + query)
        assert response.status_code == 200
        return {s.title for s in [*response.context["upcoming"], *response.context["past_page"]]}

    assert titles("") == {a.title, b.title, c.title}
    assert titles("?topic=tools") == {b.title, c.title}
    assert titles("?series=qc-basics") == {b.title}
    assert titles("?month=2020-03") == {b.title}
    assert titles("?topic=tqm&month=2020-02") == {a.title}


def test_unknown_filter_value_is_reported_and_ignored(client):
    SessionFactory(title="质量工具未来场")
    response = client.get("/courses/?topic=no-such-topic")
    assert response.status_code == 200
    html = response.content.decode()
    assert "质量工具未来场" in html
    assert "该选项不存在" in html


def test_session_page_at_a_stable_url_with_details(client):
    lecturer = LecturerFactory(name="王卓越", title="教授", bio="研究卓越绩效二十年。")
    session = SessionFactory(title="卓越绩效模式导读", lecturers=[lecturer], capacity=50)
    RegistrationFactory.create_batch(3, session=session)
    response = client.get(f"/courses/{session.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "卓越绩效模式导读" in html
    assert "研究卓越绩效二十年。" in html
    assert "50 个名额已报 3 个" in html
    assert session.join_url not in html  # the join link goes to registrants only
    assert f'href="/courses/{session.pk}/calendar.ics"' in html
    client.cookies["django_language"] = "en"
    assert "3 of 50 taken" in client.get(f"/courses/{session.pk}/").content.decode()


def test_confirmed_user_sees_join_link_on_the_session_page(client):
    user = UserFactory()
    session = SessionFactory()
    RegistrationFactory(session=session, user=user, email=user.email)
    client.force_login(user)
    html = client.get(f"/courses/{session.pk}/").content.decode()
    assert session.join_url in html
    assert "取消报名" in html


def test_past_session_page_offers_replay_and_no_registration(client):
    session = _past(replay_url="https://replay.example.com/9")
    AttendanceFactory(session=session, participants=4321)
    html = client.get(f"/courses/{session.pk}/").content.decode()
    assert "https://replay.example.com/9" in html
    assert "4321 人次" in html
    assert 'name="email"' not in html


def test_unknown_session_is_404(client):
    assert client.get("/courses/999999/").status_code == 404


def _make_rows(n):
    topic = TopicFactory()
    lecturer = LecturerFactory()
    for i in range(n):
        upcoming = SessionFactory(topic=topic, lecturers=[lecturer], capacity=10)
        RegistrationFactory(session=upcoming)
        past = _past(topic=topic, lecturers=[lecturer], days_ago=10 + i)
        AttendanceFactory(session=past)


@pytest.mark.parametrize("logged_in", [False, True])
@pytest.mark.usefixtures("uncached_pages")  # what rendering costs
def test_schedule_query_count_does_not_grow_with_sessions(
    client, django_assert_num_queries, logged_in
):
    user = UserFactory()
    if logged_in:
        client.force_login(user)
    _make_rows(2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert client.get("/courses/").status_code == 200
    _make_rows(20)
    RegistrationFactory(session=Session.objects.first(), user=user, email=user.email)
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get("/courses/?topic=&page=1")
        assert response.status_code == 200
    assert len(response.context["upcoming"]) == 22


@pytest.mark.usefixtures("uncached_pages")  # what rendering costs
def test_session_page_query_count_is_fixed(client, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = UserFactory()
    client.force_login(user)
    few = SessionFactory(capacity=5, lecturers=LecturerFactory.create_batch(1))
    RegistrationFactory(
        session=few, user=user, email=user.email, status=Registration.Status.WAITING
    )
    with CaptureQueriesContext(connection) as small:
        client.get(f"/courses/{few.pk}/")
    many = SessionFactory(capacity=5, lecturers=LecturerFactory.create_batch(8))
    RegistrationFactory.create_batch(30, session=many)
    RegistrationFactory(
        session=many, user=user, email=user.email, status=Registration.Status.WAITING
    )
    with django_assert_num_queries(len(small.captured_queries)):
        client.get(f"/courses/{many.pk}/")


def _bulk_sessions(n):
    """n upcoming and n past sessions with lecturers, registrations and attendance."""
    topic = TopicFactory()
    series = SeriesFactory(topic=topic)
    lecturer = LecturerFactory()
    now = timezone.now().replace(second=0, microsecond=0)
    sessions = Session.objects.bulk_create(
        [
            Session(
                title=f"批量{i}",
                topic=topic,
                series=series,
                starts_at=now + timedelta(days=1 + i % 60) * (1 if i % 2 else -1),
                ends_at=now
                + timedelta(days=1 + i % 60) * (1 if i % 2 else -1)
                + timedelta(hours=1),
                platform="腾讯会议",
                capacity=100 if i % 3 else None,
                status=Session.Status.SCHEDULED if i % 2 else Session.Status.ENDED,
            )
            for i in range(2 * n)
        ]
    )
    Session.lecturers.through.objects.bulk_create(
        [Session.lecturers.through(session=s, lecturer=lecturer) for s in sessions]
    )
    Registration.objects.bulk_create(
        [
            Registration(
                session=s,
                name="学员",
                email=f"bulk{s.pk}@example.com",
                status="confirmed",
                position=1,
            )
            for s in sessions
        ]
    )
    from courses.models import AttendanceRecord

    AttendanceRecord.objects.bulk_create(
        [AttendanceRecord(session=s, participants=10) for s in sessions if s.status == "ended"]
    )


def test_schedule_and_feed_queries_fixed_with_500_sessions(client, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _bulk_sessions(1)
    with CaptureQueriesContext(connection) as small_page:
        client.get("/courses/")
    with CaptureQueriesContext(connection) as small_feed:
        client.get("/courses/calendar.ics")
    _bulk_sessions(250)
    # (bulk_create is a write like any other: the cached schedule is rendered again)
    with django_assert_num_queries(len(small_page.captured_queries)):
        response = client.get("/courses/")
    assert len(response.context["upcoming"]) == 30  # the next 30; the month filter reaches more
    assert response.context["upcoming_more"] == 221
    assert "221 more upcoming sessions" in response.content.decode() or "还有 221 场" in (
        response.content.decode()
    )
    assert response.context["past_page"].paginator.count == 251
    with django_assert_num_queries(len(small_feed.captured_queries)):
        feed = client.get("/courses/calendar.ics")
    assert feed.content.count(b"BEGIN:VEVENT") == 502


def test_registrations_for_users_reads_sessions_in_one_query(django_assert_num_queries):
    from courses.selectors import registrations_for_users

    users = UserFactory.create_batch(3)
    for user in users:
        for session in SessionFactory.create_batch(2):
            RegistrationFactory(session=session, user=user, email=user.email)
    RegistrationFactory()  # someone else's
    with django_assert_num_queries(1):
        rows = [
            (r.user.email, r.session.title, r.session.topic.label)
            for r in registrations_for_users(user_ids=[u.pk for u in users[:2]])
        ]
    assert len(rows) == 4
    assert {email for email, _, _ in rows} == {users[0].email, users[1].email}


def test_session_page_in_english_shows_english_description_platform_and_lecturers(client):
    lecturer = LecturerFactory(name="李质量", organisation="某汽车集团")
    session = SessionFactory(
        title="现场管理",
        title_en="On-site management",
        description="中文介绍",
        description_en="How to run the shop floor after the restart.",
        platform="中国质量协会直播平台",
        platform_en="CAQ live platform",
        lecturers=[lecturer],
        lecturers_en="Li Zhiliang (a car maker)",
    )
    client.cookies["django_language"] = "en"
    html = client.get(session.get_absolute_url()).content.decode()
    assert "How to run the shop floor after the restart." in html
    assert "CAQ live platform" in html
    assert "Li Zhiliang (a car maker)" in html
    assert "中文介绍" not in html and "李质量" not in html
    schedule = client.get("/courses/").content.decode()
    assert "Li Zhiliang (a car maker)" in schedule

    client.cookies["django_language"] = "zh-hans"
    html = client.get(session.get_absolute_url()).content.decode()
    assert "中文介绍" in html and "中国质量协会直播平台" in html and "李质量" in html


def test_session_page_in_english_falls_back_to_chinese_texts(client):
    lecturer = LecturerFactory(name="李质量", organisation="某汽车集团")
    session = SessionFactory(description="中文介绍", platform="腾讯会议", lecturers=[lecturer])
    client.cookies["django_language"] = "en"
    html = client.get(session.get_absolute_url()).content.decode()
    assert "中文介绍" in html and "腾讯会议" in html and "李质量" in html


def test_demo_sessions_have_english_texts(db):
    from io import StringIO

    from django.core.management import call_command

    call_command("seed_demo", stdout=StringIO())
    sessions = Session.objects.all()
    assert sessions.exists()
    assert not sessions.filter(description_en="").exists()
    assert not sessions.filter(platform_en="").exists()
    assert not sessions.filter(lecturers_en="").exclude(lecturers=None).exists()
