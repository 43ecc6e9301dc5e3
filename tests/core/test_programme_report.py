"""The programme report as of a date (/staff/report/): the release's figures on the demo data,
counts equal to independent SQL counts, staff only, a clear message for a bad date, and a Word
document with the same figures."""

import datetime
import io
import subprocess
import uuid
from zoneinfo import ZoneInfo

import docx
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import translation

from cqa_portal.core import report
from tests.factories import StaffFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("uncached_pages")]
URL = reverse("core:programme_report")
DOC_URL = reverse("core:programme_report_document")
BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=io.StringIO())


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory())
    return client


def _docx_text(content: bytes) -> str:
    document = docx.Document(io.BytesIO(content))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


# The figures of the release of 20 March 2020 (see /work/shared/domain.md), as the page shows
# them: 19 sessions, 69,550 participant-times ("nearly 70,000"), 84.9% affected ("about 85%"),
# 36.0% fully and 64.0% partly among those resumed ("over 30%", "over 60%"), Hubei over 90%
# affected and over 35% not resumed, 16 associations in the alliance.
RELEASE = ["19", "69,550", "84.9%", "36.0%", "64.0%", "95.6%", "41.2%", "16"]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_demo_report_of_20_march_reproduces_the_release(demo, staff_client, language):
    staff_client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = staff_client.get(URL, {"date": "2020-03-20"})
    document = staff_client.get(DOC_URL, {"date": "2020-03-20"})
    assert page.status_code == 200
    html = page.content.decode()
    assert page.context["report"].courses["held"] == 19
    assert page.context["report"].courses["participants"] == 69550
    assert document.status_code == 200
    assert document["Content-Type"] == report.DOCX_CONTENT_TYPE
    assert "attachment" in document["Content-Disposition"]
    text = _docx_text(b"".join(document.streaming_content))
    for figure in RELEASE:
        assert figure in html
        assert figure in text
    key = page.context["report"].survey_summary["key"]
    assert 84 <= key["overall"]["affected_pct"] <= 86
    assert key["fully_among_resumed_pct"] > 30 and key["partly_among_resumed_pct"] > 60
    assert key["hubei"]["affected_pct"] > 90 and key["hubei"]["not_resumed_pct"] > 35
    if language == "zh-hans":
        assert "公益直播课程" in text and "调研结果" in text and "已举办 19 期课程" in html
    else:
        assert "Free live courses" in text and "19 sessions held" in html


def test_document_sets_a_cjk_font_from_debian(demo):
    with translation.override("zh-hans"):
        content = report.report_docx(report.programme_report(datetime.date(2020, 3, 20)))
    document = docx.Document(io.BytesIO(content))
    fonts = document.styles["Normal"].element.rPr.rFonts
    assert fonts.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia") == (
        "Noto Sans CJK SC"
    )


def _independent(day: datetime.date) -> dict:
    """The same figures by hand-written SQL, with the cutoff computed separately."""
    midnight = datetime.datetime(day.year, day.month, day.day, tzinfo=BEIJING)
    # In UTC, as the columns store it (SQLite compares the text).
    cutoff = (midnight + datetime.timedelta(days=1)).astimezone(datetime.UTC).replace(tzinfo=None)
    with connection.cursor() as cursor:

        def one(sql, *params):
            cursor.execute(sql, params)
            return cursor.fetchone()

        sessions, participants = one(
            "SELECT COUNT(DISTINCT s.id), COALESCE(SUM(a.participants), 0) FROM courses_session s "
            "LEFT JOIN courses_attendancerecord a ON a.session_id = s.id "
            "WHERE s.ends_at < %s AND s.status <> 'cancelled'",
            cutoff,
        )
        (sessions,) = one(
            "SELECT COUNT(*) FROM courses_session WHERE ends_at < %s AND status <> 'cancelled'",
            cutoff,
        )
        (signatures,) = one(
            "SELECT COUNT(*) FROM pledges_signature WHERE confirmed_at < %s AND NOT is_hidden "
            "AND (withdrawn_at IS NULL OR withdrawn_at >= %s)",
            cutoff,
            cutoff,
        )
        (cosigners,) = one(
            "SELECT COUNT(*) FROM pledges_cosignature WHERE status = 'approved' "
            "AND decided_at < %s",
            cutoff,
        )
        requested, reductions = one(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN kind = 'reduction' THEN requested_amount END),"
            " 0) FROM members_reliefrequest WHERE submitted_at < %s",
            cutoff,
        )
        (waivers,) = one(
            "SELECT COALESCE(SUM(f.amount_due), 0) FROM members_reliefrequest r "
            "JOIN members_membershipfee f ON f.company_id = r.company_id AND f.year = r.year "
            "WHERE r.submitted_at < %s AND r.kind = 'waiver'",
            cutoff,
        )
        granted, granted_amount = one(
            "SELECT COUNT(*), COALESCE(SUM(granted_amount), 0) FROM members_reliefrequest "
            "WHERE decided_at < %s AND status IN ('approved', 'partly_approved')",
            cutoff,
        )
        (responses,) = one(
            "SELECT COUNT(*) FROM surveys_response WHERE status = 'submitted' "
            "AND submitted_at < %s",
            cutoff,
        )
    return {
        "sessions": sessions,
        "participants": participants,
        "signatures": signatures,
        "cosigners": cosigners,
        "requested": requested,
        "asked": reductions + waivers,
        "granted": granted,
        "granted_amount": granted_amount,
        "responses": responses,
    }


@pytest.mark.parametrize(
    "day", [datetime.date(2020, 2, 15), datetime.date(2020, 3, 20), datetime.date(2020, 3, 25)]
)
def test_counts_equal_independent_counts(demo, day):
    data = report.programme_report(day)
    expected = _independent(day)
    assert data.courses["held"] == expected["sessions"]
    assert data.courses["participants"] == expected["participants"]
    assert data.signatures["total"] == expected["signatures"]
    assert len(data.cosigners) == expected["cosigners"]
    assert data.relief["requested"] == expected["requested"]
    assert data.relief["asked_amount"] == expected["asked"]
    assert data.relief["granted"] == expected["granted"]
    assert data.relief["granted_amount"] == expected["granted_amount"]
    assert data.responses_by_day == expected["responses"]


def test_the_day_is_counted_to_midnight_in_beijing(demo):
    # The demo's partly approved reduction was filed at 10:00 on 20 March (Beijing time, 02:00
    # UTC): it counts on the 20th, not on the 19th.
    on_19 = report.programme_report(datetime.date(2020, 3, 19)).relief["requested"]
    on_20 = report.programme_report(datetime.date(2020, 3, 20)).relief["requested"]
    assert on_20 == on_19 + 1
    assert report.cutoff_of(datetime.date(2020, 3, 20)).isoformat() == ("2020-03-21T00:00:00+08:00")


def test_before_anything_happened_nothing_is_counted(demo, staff_client):
    page = staff_client.get(URL, {"date": "2020-01-01"})
    assert page.status_code == 200
    data = page.context["report"]
    assert data.letter is None and data.alliance is None and data.snapshot is None
    assert data.courses["held"] == 0 and data.relief["requested"] == 0


def _more_of_everything() -> None:
    """Copies of the demo's sessions, attendance, signatures and relief requests."""
    from courses.models import AttendanceRecord, Session
    from members.models import ReliefRequest
    from pledges.models import Signature

    for session in Session.objects.filter(ends_at__year=2020)[:5]:
        records = list(session.attendance_records.all())
        session.pk, session.uid = None, uuid.uuid4()
        session.save()
        AttendanceRecord.objects.bulk_create(
            AttendanceRecord(session=session, email="", participants=r.participants)
            for r in records
        )
    signatures = list(Signature.objects.filter(confirmed_at__isnull=False)[:30])
    for n, signature in enumerate(signatures):
        signature.pk, signature.email = None, f"copy-{n}@example.com"
    Signature.objects.bulk_create(signatures)
    reliefs = list(ReliefRequest.objects.exclude(status__in=ReliefRequest.OPEN_STATUSES))
    for relief in reliefs:
        relief.pk = None
    ReliefRequest.objects.bulk_create(reliefs)


def test_query_count_is_fixed(demo, staff_client, django_assert_num_queries):
    # The user (the session comes from the cache) plus the report's twelve, whatever the
    # number of rows.
    with django_assert_num_queries(13):
        assert staff_client.get(URL, {"date": "2020-03-20"}).status_code == 200
    _more_of_everything()
    with django_assert_num_queries(13):
        response = staff_client.get(URL, {"date": "2020-03-20"})
    assert response.context["report"].courses["held"] > 19


@pytest.mark.parametrize("url", [URL, DOC_URL])
def test_staff_only(client, url):
    response = client.get(url, {"date": "2020-03-20"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(UserFactory())
    response = client.get(url, {"date": "2020-03-20"})
    assert response.status_code in (302, 403)
    assert response.status_code == 403 or "/login/" in response["Location"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2020-13-45", "不是日期"),
        ("yesterday", "不是日期"),
        ("2999-01-01", "请选择"),
        ("1999-12-31", "请选择"),
    ],
)
@pytest.mark.parametrize("url", [URL, DOC_URL])
def test_bad_date_gives_a_clear_message(staff_client, url, value, message):
    response = staff_client.get(url, {"date": value})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert "report" not in response.context


def test_no_date_means_today(staff_client):
    response = staff_client.get(URL)
    assert response.status_code == 200
    assert response.context["day"] == datetime.datetime.now(BEIJING).date()


def test_libreoffice_converts_the_document_with_a_cjk_font(demo, tmp_path, libreoffice_path):
    source = tmp_path / "report.docx"
    with translation.override("zh-hans"):
        source.write_bytes(report.report_docx(report.programme_report(datetime.date(2020, 3, 20))))
    subprocess.run(
        [
            libreoffice_path,
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        timeout=180,
        capture_output=True,
    )
    pdf = (tmp_path / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    assert b"NotoSansCJK" in pdf  # the Chinese text is set in Debian's Noto Sans CJK
