from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from courses import services
from courses.models import Registration, Session
from cqa_portal.core import services as core_services
from cqa_portal.core.errors import PortalError
from cqa_portal.core.models import AuditEntry, Job
from tests.factories import StaffFactory

from .factories import LecturerFactory, RegistrationFactory, SessionFactory

pytestmark = pytest.mark.django_db

INLINE = "core-auditentry-content_type-object_id"


def _change_data(session, **changes):
    start = timezone.localtime(changes.pop("starts_at", session.starts_at))
    end = timezone.localtime(changes.pop("ends_at", session.ends_at))
    data = {
        "title": session.title,
        "title_en": session.title_en,
        "topic": session.topic_id,
        "series": session.series_id or "",
        "lecturers": [lec.pk for lec in session.lecturers.all()],
        "description": session.description,
        "starts_at_0": f"{start:%Y-%m-%d}",
        "starts_at_1": f"{start:%H:%M:%S}",
        "ends_at_0": f"{end:%Y-%m-%d}",
        "ends_at_1": f"{end:%H:%M:%S}",
        "platform": session.platform,
        "join_url": session.join_url,
        "capacity": "" if session.capacity is None else session.capacity,
        "status": session.status,
        "replay_url": session.replay_url,
        f"{INLINE}-TOTAL_FORMS": "0",
        f"{INLINE}-INITIAL_FORMS": "0",
        f"{INLINE}-MIN_NUM_FORMS": "0",
        f"{INLINE}-MAX_NUM_FORMS": "0",
    }
    data.update(changes)
    return data


@pytest.fixture
def staff_client(client):
    staff = StaffFactory()
    client.force_login(staff)
    client.staff = staff
    return client


def _registrants(session):
    confirmed = RegistrationFactory.create_batch(3, session=session)
    waiting = RegistrationFactory(session=session, status=Registration.Status.WAITING)
    RegistrationFactory(session=session, status=Registration.Status.PENDING)
    RegistrationFactory(session=session, status=Registration.Status.CANCELLED)
    return [*confirmed, waiting]


def test_staff_moving_a_session_tells_each_registrant_once(
    staff_client, mailoutbox, django_capture_on_commit_callbacks
):
    session = SessionFactory(lecturers=[LecturerFactory()])
    told = _registrants(session)
    url = f"/admin/courses/session/{session.pk}/change/"
    new_start = session.starts_at + timedelta(days=2, hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            url,
            _change_data(session, starts_at=new_start, ends_at=new_start + timedelta(hours=2)),
            follow=True,
        )
    assert response.status_code == 200
    assert "正在通知 4 位报名者" in response.content.decode()
    assert sorted(m.to[0] for m in mailoutbox) == sorted(r.email for r in told)
    mail = mailoutbox[0]
    assert mail.subject.startswith("[中国质量协会] 时间变更")
    assert "原定时间" in mail.body
    session.refresh_from_db()
    assert session.sequence == 1
    entry = AuditEntry.objects.get(action="courses.session.rescheduled")
    assert entry.actor == staff_client.staff

    # Saving again without a time change (or changing only the description) tells nobody.
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, _change_data(session, description="更新了课程简介"))
    assert len(mailoutbox) == 4

    # A second move is a new change: one more mail each.
    later = session.starts_at + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            url, _change_data(session, starts_at=later, ends_at=later + timedelta(hours=2))
        )
    assert len(mailoutbox) == 8


def test_larger_capacity_promotes_the_waiting_list(
    staff_client, mailoutbox, django_capture_on_commit_callbacks
):
    session = SessionFactory(capacity=1)
    RegistrationFactory(session=session)
    first = RegistrationFactory(session=session, status=Registration.Status.WAITING, position=10)
    second = RegistrationFactory(session=session, status=Registration.Status.WAITING, position=11)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            f"/admin/courses/session/{session.pk}/change/",
            _change_data(session, capacity=2),
            follow=True,
        )
    assert "已有 1 人从候补名单递补" in response.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("confirmed", "waiting")
    assert [m.to for m in mailoutbox] == [[first.email]]


def test_cancel_with_notice_action_mails_each_registrant_once_with_the_reason(
    staff_client, mailoutbox, django_capture_on_commit_callbacks
):
    session = SessionFactory()
    told = _registrants(session)
    other = SessionFactory()
    data = {"action": "cancel_with_notice", "_selected_action": [session.pk, other.pk]}
    confirm_page = staff_client.post("/admin/courses/session/", data)
    assert confirm_page.status_code == 200
    assert "取消课程并通知报名者" in confirm_page.content.decode()
    assert mailoutbox == []  # nothing happens before the staff confirms
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/admin/courses/session/",
            {**data, "apply": "1", "reason": "讲师临时出差，课程另行安排"},
            follow=True,
        )
    assert response.status_code == 200
    job = Job.objects.get(kind="courses.cancel_with_notice")  # a mass mailing: a job
    assert f"/staff/jobs/{job.pk}/" in response.content.decode()
    page = staff_client.get(f"/staff/jobs/{job.pk}/").content.decode()
    assert "已取消 2 场课程；正在发送 4 封通知" in page
    assert sorted(m.to[0] for m in mailoutbox) == sorted(r.email for r in told)
    assert all("讲师临时出差" in m.body for m in mailoutbox)
    assert all(m.subject.startswith("[中国质量协会] 已取消") for m in mailoutbox)
    session.refresh_from_db()
    assert session.status == Session.Status.CANCELLED
    entry = AuditEntry.objects.get(action="courses.session.cancelled", object_id=str(session.pk))
    assert entry.detail == "讲师临时出差，课程另行安排"
    # Cancelling again sends nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post("/admin/courses/session/", {**data, "apply": "1", "reason": ""})
    assert len(mailoutbox) == 4


def test_setting_the_status_to_cancelled_in_the_form_is_a_cancel_with_notice(
    staff_client, mailoutbox, django_capture_on_commit_callbacks
):
    session = SessionFactory()
    told = _registrants(session)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            f"/admin/courses/session/{session.pk}/change/",
            _change_data(session, status="cancelled"),
        )
    session.refresh_from_db()
    assert session.status == Session.Status.CANCELLED
    assert len(mailoutbox) == len(told)


def test_past_session_cannot_be_cancelled():
    start = timezone.now() - timedelta(days=3)
    session = SessionFactory(starts_at=start, ends_at=start + timedelta(hours=1))
    with pytest.raises(PortalError):
        services.session_cancel(session_id=session.pk, actor=None, reason="")


def test_notices_to_many_registrants_go_in_batches(mailoutbox, settings, send_after_commit):
    settings.COURSES_MAIL_BATCH_SIZE = 100
    session = SessionFactory()
    RegistrationFactory.create_batch(250, session=session)
    with mock.patch(
        "cqa_portal.core.services.delivery.get_connection",
        wraps=core_services.delivery.get_connection,
    ) as get_connection:
        notified = send_after_commit(
            services.session_cancel, session_id=session.pk, actor=None, reason=""
        )
    assert notified == 250
    assert len(mailoutbox) == 250
    assert get_connection.call_count == 3
