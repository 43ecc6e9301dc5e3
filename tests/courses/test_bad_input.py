"""Property-based: random and hostile input to visitor registration, the registration actions
and links, the schedule filters and the attendance import never causes a 500 or a partial
write, and always gets a message in Chinese."""

import io
from datetime import timedelta
from urllib.parse import quote

import pytest
import tablib
from django.contrib.messages import constants
from django.core import signing
from django.utils import timezone
from hypothesis import event, given
from hypothesis import strategies as st

from courses import services
from courses.models import (
    CONFIRM_LINK,
    MANAGE_LINK,
    AttendanceRecord,
    Registration,
    Series,
    Session,
    Topic,
)
from courses.resources import AttendanceResource
from cqa_portal.core.models import AuditEntry, OutboxMessage
from tests.factories import UserFactory
from tests.hostile import (
    CJK,
    ERROR_BLOCK,
    LONG_EMAILS,
    SETTINGS,
    assert_chinese,
    page_import_errors,
)
from tests.hostile import xlsx as _xlsx
from tests.jobs import admin_import, confirm_import

from .factories import RegistrationFactory, SessionFactory

SCRIPT = "<script>alert(1)</script>"
HOSTILE = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "=cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            SCRIPT,
            "'; DROP TABLE courses_registration; --",
            "\x00\x01\x02",
            "a\x00b",
            "９１１１００００６０００３７３４１Ｌ",
            "１２",
            "-1e309",
            "1e309",
            "NaN",
            "sNaN",
            "Infinity",
            "-Infinity",
            "9" * 400,
            "-" + "9" * 30,
            "1" + "0" * 5000,
            "2147483648",
            "9223372036854775808",
            "𠮷" * 50,
            "😀" * 120,
            "x" * 5000,
        ]
    ),
)
HUGE_IDS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, int("9" * 400)]),
)


# Addresses the validator accepts but the database column (254 characters) cannot hold.
# ("İ" lower-cases to two characters: a valid address can outgrow the column once normalised.)
def valid_or(value):
    return st.one_of(st.just(value), HOSTILE)


def messages_of(response) -> list:
    """The messages this request added (earlier ones may still wait in the cookie)."""
    return list(response.wsgi_request._messages._queued_messages)


def snapshot() -> tuple:
    return (
        Registration.objects.count(),
        list(Registration.objects.order_by("pk").values_list("status", "name", "email")),
        AttendanceRecord.objects.count(),
        OutboxMessage.objects.count(),
        AuditEntry.objects.count(),
    )


@pytest.fixture
def no_throttle(settings):
    # Many examples come from one test address: the throttle is tested in test_registration.
    settings.COURSES_REGISTER_RATE = (10**6, 600)


@pytest.fixture
def session(db):
    return SessionFactory(capacity=2)


# --- visitor registration ---------------------------------------------------------------------


@SETTINGS
@given(
    name=valid_or("陈质量"),
    email=st.one_of(
        st.sampled_from(["Chen.Quality@Example.com", "li@example.cn"]),
        HOSTILE,
        LONG_EMAILS,
        st.emails(),
    ),
    organisation=valid_or("某装备制造有限公司"),
    consent=st.one_of(st.just("on"), HOSTILE),
)
def test_visitor_registration_never_500_and_writes_nothing_when_refused(
    client, session, no_throttle, name, email, organisation, consent
):
    fields = {"name": name, "email": email, "organisation": organisation}
    before = snapshot()
    response = client.post(
        f"/courses/{session.pk}/register/", {**fields, "privacy_consent": consent}
    )
    assert response.status_code in (302, 400)
    assert SCRIPT not in response.content.decode()  # what was sent is shown escaped
    event(f"status {response.status_code}")
    if response.status_code == 302:
        assert response["Location"] == f"/courses/{session.pk}/"
        shown = messages_of(response)
        assert shown
        for message in shown:
            assert_chinese(str(message), fields.values())
        if any(m.level == constants.ERROR for m in shown):
            assert snapshot() == before
        else:
            assert Registration.objects.filter(email=email.strip().lower()).exists()
    else:
        assert snapshot() == before
        blocks = ERROR_BLOCK.findall(response.content.decode())
        assert blocks
        assert_chinese(" ".join(blocks), fields.values())


def test_an_email_that_outgrows_the_column_when_lower_cased_is_refused(client, session):
    email = "a" * 60 + "@" + ".".join(["İ" * 60] * 3) + ".cn"  # 246 chars, 426 lower-cased
    before = snapshot()
    response = client.post(
        f"/courses/{session.pk}/register/",
        {"name": "陈", "email": email, "organisation": "某公司", "privacy_consent": "on"},
    )
    assert response.status_code == 400
    assert "254" in " ".join(ERROR_BLOCK.findall(response.content.decode()))
    assert snapshot() == before


@SETTINGS
@given(pk=HUGE_IDS, action=st.sampled_from(["register", "cancel"]), body=HOSTILE)
def test_member_actions_with_hostile_session_numbers_never_500(
    client, session, no_throttle, pk, action, body
):
    client.force_login(UserFactory())
    before = snapshot()
    response = client.post(f"/courses/{pk}/{action}/", {"name": body})
    assert response.status_code in (302, 404)
    if response.status_code == 302:
        assert snapshot() == before or pk == session.pk


@SETTINGS
@given(pk=HUGE_IDS, suffix=st.sampled_from(["", "calendar.ics"]))
def test_session_pages_with_hostile_numbers_never_500(client, session, pk, suffix):
    response = client.get(f"/courses/{pk}/{suffix}")
    assert response.status_code in (200, 404)


@SETTINGS
@given(
    token=st.one_of(
        HOSTILE,
        HUGE_IDS.map(lambda n: f"{n}:abc"),
        HUGE_IDS.map(lambda n: signing.Signer(salt=CONFIRM_LINK.salt).sign(f"{n}.key.1")),
        HUGE_IDS.map(lambda n: signing.Signer(salt=MANAGE_LINK.salt).sign(f"{n}.key.1")),
    ),
    path=st.sampled_from(["confirm/{}/", "registration/{}/", "registration/{}/calendar.ics"]),
    method=st.sampled_from(["get", "post"]),
)
def test_hostile_registration_links_get_a_readable_page(client, session, token, path, method):
    RegistrationFactory(session=session)
    before = snapshot()
    response = getattr(client, method)("/courses/" + path.format(quote(token, safe="")))
    assert response.status_code in (404, 405, 410)
    assert snapshot() == before
    if response.status_code in (404, 410):
        assert CJK.search(response.content.decode())


@SETTINGS
@given(topic=HOSTILE, series=HOSTILE, month=HOSTILE, page=st.one_of(HOSTILE, HUGE_IDS.map(str)))
def test_schedule_filters_and_feed_never_500(client, session, topic, series, month, page):
    query = {"topic": topic, "series": series, "month": month, "page": page}
    assert client.get("/courses/", query).status_code == 200
    feed = client.get("/courses/calendar.ics", query)
    # A topic or series that does not exist is a 404 with a message, never every session.
    topics = set(Topic.objects.values_list("slug", flat=True))
    all_series = set(Series.objects.values_list("slug", flat=True))
    unknown = (topic and topic not in topics) or (series and series not in all_series)
    assert feed.status_code == (404 if unknown else 200), (topic, series)


# --- attendance import ------------------------------------------------------------------------


def _held(**kwargs):
    start = timezone.now() - timedelta(days=3)
    kwargs.setdefault("status", Session.Status.ENDED)
    return SessionFactory(starts_at=start, ends_at=start + timedelta(hours=1), **kwargs)


def import_messages(result) -> list[str]:
    messages = [str(error.error) for error in result.base_errors]
    messages += [str(e.error) for _number, errors in result.row_errors() for e in errors]
    for row in result.invalid_rows:
        messages += [str(m) for ms in row.error_dict.values() for m in ms]
    return messages


CELL = st.one_of(HOSTILE, HUGE_IDS.map(str), st.none(), st.integers(), st.floats())


@SETTINGS
@given(
    headers=st.one_of(
        st.sampled_from(
            [
                ["session", "participants"],
                ["session", "email"],
                ["场次", "观看人次"],
                ["session", "participants", "email"],
            ]
        ),
        st.lists(HOSTILE, min_size=1, max_size=3),
    ),
    rows=st.lists(
        st.tuples(
            st.one_of(st.sampled_from(["HELD", "FUTURE", "CANCELLED", ""]), CELL),
            st.one_of(st.sampled_from(["12", "3,512", "", "alice@example.com"]), CELL),
            st.one_of(st.sampled_from(["", "bob@example.com"]), CELL),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_attendance_import_never_raises_and_is_all_or_nothing(db, headers, rows):
    held = Session.objects.filter(title="held").first() or _held(title="held")
    future = Session.objects.filter(title="future").first() or SessionFactory(title="future")
    cancelled = Session.objects.filter(title="cancelled").first() or _held(
        title="cancelled", status=Session.Status.CANCELLED
    )
    AttendanceRecord.objects.create(session=held, participants=7)
    ids = {"HELD": held.pk, "FUTURE": future.pk, "CANCELLED": cancelled.pk}
    data = [[ids.get(r[0], r[0]), r[1], r[2]][: len(headers)] for r in rows]
    data = [row + [""] * (len(headers) - len(row)) for row in data]
    dataset = tablib.Dataset(*data, headers=headers)
    before = snapshot()
    result = AttendanceResource().import_data(
        dataset, dry_run=False, use_transactions=True, rollback_on_validation_errors=True
    )
    if result.has_errors() or result.has_validation_errors():
        assert snapshot() == before
        messages = import_messages(result)
        assert messages
        sent = [str(c) for r in rows for c in r if c is not None] + [str(h) for h in headers]
        for message in messages:
            assert_chinese(message, sent)
    AttendanceRecord.objects.all().delete()
    AuditEntry.objects.all().delete()


@SETTINGS
@given(content=st.one_of(st.binary(max_size=2000), st.text(max_size=500).map(str.encode)))
def test_attendance_service_reads_anything_without_raising(db, content):
    _held(title="held")
    result = services.attendance_import(data=content, file_format="csv", actor=None)
    if not result.ok:
        assert result.errors
        for message in result.errors:
            assert_chinese(message, [content.decode("utf-8", "replace")])
        assert not AttendanceRecord.objects.exists()
    AttendanceRecord.objects.all().delete()


def test_attendance_service_reads_gbk_csv(db):
    session = _held()
    data = f'场次,观看人次\n{session.pk},"3,512"\n'.encode("gbk")
    result = services.attendance_import(data=data, file_format="csv", actor=None)
    assert result.ok, result.errors
    assert AttendanceRecord.objects.get().participants == 3512


def _admin_import(client, content: bytes, name="attendance.csv", fmt="0"):
    return admin_import(client, "/admin/courses/session/import/", content, name=name, fmt=fmt)


def test_admin_import_reads_gbk_csv(staff_client):
    session = _held()
    csv = f"场次,观看人次\n{session.pk},3512\n"
    response = _admin_import(staff_client, csv.encode("gbk"))
    assert response.status_code == 200
    assert "确认导入" in response.content.decode()
    assert not AttendanceRecord.objects.exists()  # nothing before confirmation
    confirm_import(staff_client, response)
    assert AttendanceRecord.objects.get().participants == 3512


@pytest.mark.parametrize(
    "content",
    [
        "场次,观看人次\n{pk},三千\n".encode("gbk"),
        b"\x89PNG\r\n\x1a\n\x00\x00binary\xff\xfe",
        b"",
        b'session;participants\n"unterminated,quote\n',
        b"only,header,row\n",
        b"participants\n12\n",
        b"session,participants\n=1+1,=cmd|' /C calc'!A0\n{pk},@SUM(A1)\n",
        ("session,participants\n" + "{pk},-1\n" * 5000).encode(),
        b"session,participants\n{pk},99999999999999999999999\n{pk},Infinity\n",
    ],
    ids=[
        "gbk-bad-number",
        "binary",
        "empty",
        "broken-csv",
        "missing-columns",
        "no-session-column",
        "formulas",
        "many-bad-rows",
        "huge-numbers",
    ],
)
def test_admin_import_of_broken_files_shows_a_message_and_writes_nothing(staff_client, content):
    session = _held()
    content = content.replace(b"{pk}", str(session.pk).encode())
    response = _admin_import(staff_client, content)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Traceback" not in html and "Error:" not in html
    errors = page_import_errors(html)
    assert errors, html[-3000:]
    for error in errors:
        assert_chinese(error, [content.decode("utf-8", "replace")])
    assert not response.context.get("can_confirm")
    assert not AttendanceRecord.objects.exists()


def test_admin_import_confirmed_twice_imports_once(staff_client):
    session = _held()
    preview = _admin_import(staff_client, f"session,participants\n{session.pk},12\n".encode())
    first = confirm_import(staff_client, preview)
    records = list(AttendanceRecord.objects.values_list("pk", flat=True))
    assert len(records) == 1
    second = confirm_import(staff_client, preview)
    assert second.context["job"].pk == first.context["job"].pk
    assert list(AttendanceRecord.objects.values_list("pk", flat=True)) == records


@pytest.mark.parametrize(
    "data",
    [{}, {"format": "abc"}, {"format": "7"}, {"import_file_name": "../../etc/passwd"}],
    ids=["empty", "bad-format", "no-such-format", "other-file"],
)
def test_old_or_altered_confirmation_forms_get_a_message(staff_client, data):
    response = staff_client.post("/admin/courses/session/process_import/", data, follow=True)
    assert response.status_code == 200
    assert not AttendanceRecord.objects.exists()
    assert any(CJK.search(str(m)) for m in response.context["messages"])


def test_admin_import_refuses_too_many_rows_at_once(staff_client, monkeypatch):
    monkeypatch.setattr("courses.resources.MAX_ROWS", 100)
    session = _held()
    rows = "".join(f"{session.pk},a{n}@example.com\n" for n in range(101))
    response = _admin_import(staff_client, f"session,email\n{rows}".encode())
    assert response.status_code == 200
    html = response.content.decode()
    assert "文件有 101 行" in html and "100" in html
    assert "import-error-li" not in html  # one message for the file, none per row
    assert not response.context.get("can_confirm")
    assert not AttendanceRecord.objects.exists()


def test_admin_import_xlsx_with_formulas_writes_nothing(staff_client):
    from openpyxl import Workbook

    session = _held()
    book = Workbook()
    sheet = book.active
    sheet.append(["session", "participants"])
    sheet.append(["=1+1", '=HYPERLINK("http://x","y")'])
    sheet.append([session.pk, "=2*3"])
    buffer = io.BytesIO()
    book.save(buffer)
    response = _admin_import(staff_client, buffer.getvalue(), name="a.xlsx", fmt="1")
    assert response.status_code == 200
    assert "Traceback" not in response.content.decode()
    assert not response.context.get("can_confirm")
    assert not AttendanceRecord.objects.exists()


@pytest.mark.parametrize(
    "make",
    [
        lambda pk: b"PK\x03\x04 not really a workbook",
        lambda pk: b"\x00" * 1000,
        lambda pk: _xlsx(),
        lambda pk: _xlsx(["场次", "观看人次"]),
        lambda pk: _xlsx([None, None], [pk, 12]),
        lambda pk: _xlsx(["session", "participants"], [pk, 12.5], [pk + 0.5, 3]),
        lambda pk: _xlsx(["session", "email"], [1e300, "a@example.com"], [pk, 12]),
    ],
    ids=[
        "fake-zip",
        "nul-bytes",
        "empty-book",
        "header-only",
        "no-headers",
        "fractions",
        "huge-session",
    ],  # fmt: skip
)
def test_admin_import_of_broken_workbooks_shows_a_message_and_writes_nothing(staff_client, make):
    session = _held()
    response = _admin_import(staff_client, make(session.pk), name="a.xlsx", fmt="1")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Traceback" not in html
    errors = page_import_errors(html)
    assert errors, html[-3000:]
    for error in errors:
        assert_chinese(error)
    assert not response.context.get("can_confirm")
    assert not AttendanceRecord.objects.exists()


def test_admin_import_rejects_huge_files(staff_client, settings):
    _held()
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    response = _admin_import(staff_client, b"a" * (12 * 1024 * 1024))
    assert response.status_code in (200, 400, 413)
    assert "Traceback" not in response.content.decode(errors="replace")
    assert not AttendanceRecord.objects.exists()
