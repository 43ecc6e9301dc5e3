import io
from datetime import timedelta

import openpyxl
import pytest
from django.utils import timezone

from courses import services
from courses.models import AttendanceRecord, Registration, Session
from cqa_portal.core.models import AuditEntry
from tests.factories import StaffFactory
from tests.spreadsheets import body

from .factories import AttendanceFactory, RegistrationFactory, SessionFactory

pytestmark = pytest.mark.django_db


def _held(**kwargs):
    start = timezone.now() - timedelta(days=kwargs.pop("days_ago", 3))
    kwargs.setdefault("status", Session.Status.ENDED)
    return SessionFactory(starts_at=start, ends_at=start + timedelta(hours=1), **kwargs)


def _csv(*rows):
    import csv

    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def _xlsx(*rows):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_participant_counts_from_csv_feed_the_schedule_totals(client):
    first, second = _held(), _held(days_ago=5)
    staff = StaffFactory()
    result = services.attendance_import(
        data=_csv(["session", "participants"], [first.pk, "3,512"], [second.pk, 4100]),
        file_format="csv",
        actor=staff,
    )
    assert result.ok, result.errors
    assert result.summary.participants == 7612
    assert dict(AttendanceRecord.objects.values_list("session_id", "participants")) == {
        first.pk: 3512,
        second.pk: 4100,
    }
    totals = client.get("/courses/").context["totals"]
    assert totals == {"held": 2, "participants": 7612}
    assert (
        AuditEntry.objects.filter(action="courses.session.attendance_recorded", actor=staff).count()
        == 2
    )


def test_attendee_emails_from_xlsx_are_matched_to_registrations():
    session = _held()
    alice = RegistrationFactory(session=session, email="alice@example.com")
    RegistrationFactory(session=session, email="absent@example.com")
    result = services.attendance_import(
        data=_xlsx(
            ["场次", "邮箱"],  # the platform's Chinese headers
            [session.pk, "Alice@Example.com"],
            [session.pk, "walk-in@example.com"],
            [session.pk, "alice@example.com"],  # joined twice: counts once
            [None, None],  # trailing empty row
        ),
        file_format="xlsx",
        actor=None,
    )
    assert result.ok, result.errors
    assert (result.summary.participants, result.summary.matched) == (2, 1)
    records = AttendanceRecord.objects.filter(session=session)
    assert {r.email: r.registration_id for r in records} == {
        "alice@example.com": alice.pk,
        "walk-in@example.com": None,
    }


def test_importing_a_session_again_replaces_its_attendance():
    session = _held()
    AttendanceFactory(session=session, participants=10)
    assert services.attendance_import(
        data=_csv(["session", "participants"], [session.pk, 2500]), file_format="csv", actor=None
    ).ok
    assert list(AttendanceRecord.objects.values_list("participants", flat=True)) == [2500]


def test_bad_rows_are_reported_by_row_number_and_nothing_is_written():
    held, other, third, fourth = (_held(days_ago=d) for d in (3, 4, 5, 6))
    upcoming = SessionFactory()
    cancelled = _held(status=Session.Status.CANCELLED)
    AttendanceFactory(session=other, participants=77)
    result = services.attendance_import(
        data=_csv(
            ["session", "participants", "email"],
            [held.pk, 1200, ""],  # 1: good
            [upcoming.pk, 50, ""],  # 2: not held yet
            [cancelled.pk, 50, ""],  # 3: cancelled
            [999999, 50, ""],  # 4: no such session
            ["abc", 50, ""],  # 5: not a number
            [other.pk, 40, ""],  # 6: a count and ...
            [other.pk, "", "y@example.com"],  # 7: ... emails for the same session
            [held.pk, 20, "x@example.com"],  # 8: both in one row
            [held.pk, "", ""],  # 9: neither
            [held.pk, 1300, ""],  # 10: second count for the same session
            [third.pk, "-3", ""],  # 11: negative
            [fourth.pk, "", "not-an-email"],  # 12: bad email
        ),
        file_format="csv",
        actor=None,
    )
    assert not result.ok
    text = "\n".join(result.errors)
    for row in range(3, 14):  # spreadsheet rows: the header is row 1
        assert f"第 {row} 行" in text, (row, text)
    assert not any(e.startswith("第 2 行") for e in result.errors)
    assert "尚未举行" in text
    assert "已取消" in text
    assert "没有编号为 999999 的场次" in text
    assert "同时有参与人次和参会者邮箱" in text
    assert "已在第 2 行给出参与人次" in text
    assert "“-3”不是有效的参与人次" in text
    assert "“not-an-email”不是有效的邮箱地址" in text
    # Nothing written, nothing replaced.
    assert list(AttendanceRecord.objects.values_list("session_id", "participants")) == [
        (other.pk, 77)
    ]
    assert not AuditEntry.objects.filter(action="courses.session.attendance_recorded").exists()


def test_file_without_the_needed_columns_is_refused():
    result = services.attendance_import(
        data=_csv(["name", "phone"], ["张三", "123"]), file_format="csv", actor=None
    )
    assert not result.ok
    assert "session" in result.errors[0]
    assert services.attendance_import(data=b"\x00\x01", file_format="xlsx", actor=None).errors
    assert not services.attendance_import(data=b"", file_format="pdf", actor=None).ok


def _upload(client, data, name, file_format):
    from tests.jobs import admin_import

    # import-export numbers the formats in the order of SessionAdmin.import_formats.
    return admin_import(
        client,
        "/admin/courses/session/import/",
        data,
        name=name,
        fmt={"csv": 0, "xlsx": 1}[file_format],
        resource="",
    )


def test_admin_import_previews_then_records(client):
    session = _held()
    registration = RegistrationFactory(session=session, email="li@example.com")
    client.force_login(StaffFactory())
    preview = _upload(
        client, _csv(["session", "email"], [session.pk, "li@example.com"]), "a.csv", "csv"
    )
    assert preview.status_code == 200
    assert preview.context["can_confirm"]
    assert not AttendanceRecord.objects.exists()  # the check writes nothing
    from tests.jobs import confirm_import

    response = confirm_import(client, preview)
    assert response.status_code == 200
    assert "已记录 1 场课程的出勤：共 1 人次" in response.content.decode()
    record = AttendanceRecord.objects.get()
    assert record.registration == registration


def test_admin_import_shows_bad_rows_and_offers_no_confirmation(client):
    session = _held()
    client.force_login(StaffFactory())
    response = _upload(
        client,
        _xlsx(["session", "participants"], [session.pk, 300], [session.pk, "很多"]),
        "bad.xlsx",
        "xlsx",
    )
    assert response.status_code == 200
    assert not response.context["can_confirm"]
    problems = response.context["report"]["problems"]
    assert [(p["row"], p["column"], p["value"]) for p in problems] == [(3, "participants", "很多")]
    assert "“很多”不是有效的参与人次" in response.content.decode()
    assert not AttendanceRecord.objects.exists()


def test_registrations_marked_attended_show_in_the_export(client):
    session = _held()
    came = RegistrationFactory(session=session, email="came@example.com")
    RegistrationFactory(session=session, email="away@example.com")
    services.attendance_import(
        data=_csv(["session", "email"], [session.pk, came.email]), file_format="csv", actor=None
    )
    client.force_login(StaffFactory())
    response = client.post(
        "/admin/courses/session/",
        {"action": "export_registrants", "_selected_action": [session.pk]},
    )
    sheet = openpyxl.load_workbook(io.BytesIO(body(response))).active
    rows = {r[4]: r[-1] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows == {"came@example.com": "是", "away@example.com": None}
    assert Registration.objects.count() == 2
