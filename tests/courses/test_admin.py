import io
from datetime import timedelta

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from courses.models import Registration, Session
from cqa_portal.core.models import AuditEntry
from tests.factories import StaffFactory, UserFactory
from tests.spreadsheets import body

from .factories import (
    AttendanceFactory,
    LecturerFactory,
    RegistrationFactory,
    SeriesFactory,
    SessionFactory,
    TopicFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    staff = StaffFactory()
    client.force_login(staff)
    client.staff = staff
    return client


def _sessions_with_registrants(n):
    for _ in range(n):
        session = SessionFactory(capacity=3, series=SeriesFactory())
        RegistrationFactory.create_batch(3, session=session)
        RegistrationFactory.create_batch(2, session=session, status=Registration.Status.WAITING)
        AttendanceFactory(session=session, participants=5)


@pytest.mark.usefixtures("uncached_pages")  # what rendering costs
def test_session_list_shows_registration_and_waiting_counts_without_n_plus_1(
    staff_client, django_assert_num_queries
):
    _sessions_with_registrants(2)
    with CaptureQueriesContext(connection) as few:
        response = staff_client.get("/admin/courses/session/")
    assert response.status_code == 200
    session = response.context["cl"].result_list[0]
    assert (session.confirmed_count, session.waiting_count, session.participants) == (3, 2, 5)
    _sessions_with_registrants(18)
    with django_assert_num_queries(len(few.captured_queries)):
        staff_client.get("/admin/courses/session/")


def test_admin_pages_render(staff_client):
    session = SessionFactory(lecturers=[LecturerFactory()], series=SeriesFactory())
    registration = RegistrationFactory(session=session)
    AttendanceFactory(session=session)
    for url in [
        "/admin/courses/session/",
        "/admin/courses/session/add/",
        f"/admin/courses/session/{session.pk}/change/",
        "/admin/courses/session/import/",
        "/admin/courses/registration/",
        f"/admin/courses/registration/{registration.pk}/change/",
        "/admin/courses/topic/",
        "/admin/courses/series/",
        "/admin/courses/lecturer/",
        "/admin/courses/attendancerecord/",
    ]:
        assert staff_client.get(url).status_code == 200, url


def test_history_inline_on_sessions_and_registrations(
    staff_client, django_capture_on_commit_callbacks
):
    from courses import services

    session = SessionFactory()
    user = UserFactory()
    registration = services.registration_register_user(
        session_id=session.pk, user=user, language="zh-hans"
    ).registration
    services.session_cancel(session_id=session.pk, actor=staff_client.staff, reason="天气原因")
    html = staff_client.get(f"/admin/courses/session/{session.pk}/change/").content.decode()
    assert "课程已取消" in html and "courses.session.cancelled" not in html  # in words
    assert "天气原因" in html
    html = staff_client.get(
        f"/admin/courses/registration/{registration.pk}/change/"
    ).content.decode()
    assert "已报名" in html and "courses.registration.registered" not in html


def test_export_registrants_as_xlsx(staff_client):
    session = SessionFactory(title="质量工程入门")
    RegistrationFactory(session=session, name="赵一", email="zhao@example.com", position=1)
    RegistrationFactory(
        session=session,
        name="钱二",
        email="qian@example.com",
        position=2,
        status=Registration.Status.WAITING,
    )
    response = staff_client.post(
        "/admin/courses/session/",
        {"action": "export_registrants", "_selected_action": [session.pk]},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    rows = list(openpyxl.load_workbook(io.BytesIO(body(response))).active.values)
    assert rows[0][:5] == ("场次编号", "课程", "开始时间（北京时间）", "姓名", "电子邮箱")
    assert [(r[1], r[3], r[6]) for r in rows[1:]] == [
        ("质量工程入门", "赵一", "已确认"),
        ("质量工程入门", "钱二", "候补中"),
    ]


def test_duplicate_session_one_week_later(staff_client):
    lecturers = LecturerFactory.create_batch(2)
    original = SessionFactory(lecturers=lecturers, replay_url="https://replay.example.com/x")
    RegistrationFactory(session=original)
    response = staff_client.post(
        "/admin/courses/session/",
        {"action": "duplicate_sessions", "_selected_action": [original.pk]},
        follow=True,
    )
    assert response.status_code == 200
    copy = Session.objects.exclude(pk=original.pk).get()
    assert copy.starts_at == original.starts_at + timedelta(days=7)
    assert copy.title == original.title
    assert set(copy.lecturers.all()) == set(lecturers)
    assert copy.uid != original.uid
    assert copy.replay_url == ""
    assert copy.status == Session.Status.SCHEDULED
    assert not copy.registrations.exists()
    assert AuditEntry.objects.filter(
        action="courses.session.duplicated", actor=staff_client.staff
    ).exists()


def test_add_session_through_the_admin_is_audited(staff_client):
    topic = TopicFactory()
    start = timezone.localtime(timezone.now() + timedelta(days=10))
    response = staff_client.post(
        "/admin/courses/session/add/",
        {
            "title": "现场管理：5S 推行",
            "title_en": "",
            "topic": topic.pk,
            "series": "",
            "description": "",
            "starts_at_0": f"{start:%Y-%m-%d}",
            "starts_at_1": "14:30:00",
            "ends_at_0": f"{start:%Y-%m-%d}",
            "ends_at_1": "16:00:00",
            "platform": "钉钉直播",
            "join_url": "https://live.example.com/5s",
            "capacity": "",
            "status": "scheduled",
            "replay_url": "",
            "core-auditentry-content_type-object_id-TOTAL_FORMS": "0",
            "core-auditentry-content_type-object_id-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    session = Session.objects.get()
    assert session.capacity is None
    assert AuditEntry.objects.filter(action="courses.session.created").count() == 1


def test_end_before_start_is_refused_by_the_database():
    from django.db import IntegrityError, transaction

    session = SessionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Session.objects.filter(pk=session.pk).update(ends_at=session.starts_at)


def test_staff_cancel_registrations_promotes_the_waiting_list(
    staff_client, mailoutbox, django_capture_on_commit_callbacks
):
    session = SessionFactory(capacity=1)
    seat = RegistrationFactory(session=session, position=1)
    queued = RegistrationFactory(session=session, position=2, status=Registration.Status.WAITING)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/admin/courses/registration/",
            {"action": "cancel_registrations", "_selected_action": [seat.pk]},
            follow=True,
        )
    assert "已取消 1 条报名" in response.content.decode()
    seat.refresh_from_db()
    queued.refresh_from_db()
    assert (seat.status, queued.status) == ("cancelled", "confirmed")
    assert {m.to[0] for m in mailoutbox} == {seat.email, queued.email}
