"""Property-based: random and hostile input to the member forms and the company import never
causes a 500 or a partial write, and always gets a message."""

import io

import pytest
import tablib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from members.models import MemberCompany, ReliefRequest
from members.resources import CompanyResource, import_report
from tests.jobs import admin_import

from .factories import FeeFactory, MembershipFactory

HOSTILE = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "=cmd|' /C calc'!A0",
            "<script>alert(1)</script>",
            "'; DROP TABLE members_membercompany; --",
            "\x00\x01\x02",
            "９１１１００００６０００３７３４１Ｌ",
            "-1e309",
            "NaN",
            "9" * 400,
            "𠮷" * 50,
        ]
    ),
)
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def logged_in_admin(client, db):
    membership = MembershipFactory()
    FeeFactory(company=membership.company)
    client.force_login(membership.user)
    return membership


@SETTINGS
@given(
    kind=HOSTILE,
    amount=HOSTILE,
    until=HOSTILE,
    year=HOSTILE,
    explanation=HOSTILE,
    reasons=st.lists(HOSTILE, max_size=3),
)
def test_relief_form_never_500_and_writes_nothing_when_invalid(
    client, logged_in_admin, kind, amount, until, year, explanation, reasons
):
    before = ReliefRequest.objects.count()
    response = client.post(
        "/members/relief/new/",
        {
            "year": year,
            "kind": kind,
            "requested_amount": amount,
            "deferral_until": until,
            "reasons": reasons,
            "explanation": explanation,
            "submit": "1",
        },
    )
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert ReliefRequest.objects.count() == before
        assert (
            "invalid-feedback" in response.content.decode() or "alert" in response.content.decode()
        )


@SETTINGS
@given(
    fields=st.dictionaries(
        st.sampled_from(
            [
                "name",
                "uscc",
                "province",
                "industry_section",
                "size_band",
                "level",
                "postal_code",
                "contact_email",
            ]
        ),
        HOSTILE,
    )
)
def test_application_form_never_500(client, db, fields):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    response = client.post("/members/apply/", {**fields, "privacy_consent": "on"})
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert not MemberCompany.objects.exists()


@SETTINGS
@given(rows=st.lists(st.lists(HOSTILE, min_size=6, max_size=6), min_size=1, max_size=5))
def test_company_import_never_raises_and_is_all_or_nothing(db, rows):
    dataset = tablib.Dataset(
        *rows, headers=["name", "uscc", "province", "industry_section", "size_band", "level"]
    )
    result = CompanyResource().import_data(
        dataset, dry_run=False, use_transactions=True, rollback_on_validation_errors=True
    )
    if result.has_errors() or result.has_validation_errors():
        assert import_report(result)
        assert not MemberCompany.objects.exists()


def _admin_import(client, content: bytes, name="companies.csv", fmt="0"):
    return admin_import(client, "/admin/members/membercompany/import/", content, name=name, fmt=fmt)


def test_admin_import_reads_gbk_csv(client, db):
    from tests.factories import StaffFactory

    from .factories import make_uscc

    csv = (
        "name,uscc,province,industry_section,size_band,level\n"
        f"甲公司,{make_uscc()},湖北省,制造业,small,会员单位\n"
    )
    client.force_login(StaffFactory())
    response = _admin_import(client, csv.encode("gbk"))
    html = response.content.decode()
    assert "确认导入" in html and "新增" in html  # a clean dry run, ready to confirm
    assert not MemberCompany.objects.exists()  # nothing is written before confirmation


@pytest.mark.parametrize(
    "content",
    [
        "name,uscc,province,industry_section,size_band,level\n甲公司,9111,湖北省,C,small,ordinary\n".encode(
            "gbk"
        ),
        b"\x89PNG\r\n\x1a\n\x00\x00binary",
        b"",
        b'name;uscc\n"unterminated,quote\n',
        b"only,header,row\n",
        (
            "name,uscc,province,industry_section,size_band,level\n"
            + "=1+1,x,42,C,small,ordinary\n" * 3000
        ).encode(),
    ],
    ids=["gbk", "binary", "empty", "broken-csv", "missing-columns", "many-bad-rows"],
)
def test_admin_import_of_broken_files_shows_a_message_and_writes_nothing(client, db, content):
    from tests.factories import StaffFactory

    client.force_login(StaffFactory())
    response = _admin_import(client, content)
    assert response.status_code == 200
    html = response.content.decode()
    assert any(
        message in html
        for message in ["无法读取文件", "空文件", "18 位", "缺少必需的列", "没有可导入的有效数据"]
    ), html[-3000:]
    assert "Traceback" not in html and "UnicodeDecodeError" not in html
    assert not MemberCompany.objects.exists()


def test_admin_import_rejects_huge_files(client, db, settings):
    from tests.factories import StaffFactory

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    client.force_login(StaffFactory())
    response = _admin_import(client, b"a" * (12 * 1024 * 1024))
    assert response.status_code in (200, 400, 413)
    assert not MemberCompany.objects.exists()


def test_admin_import_xlsx_with_formulas_imports_text_not_formulas(client, db):
    from openpyxl import Workbook

    from tests.factories import StaffFactory

    from .factories import make_uscc

    book = Workbook()
    sheet = book.active
    sheet.append(["name", "uscc", "province", "industry_section", "size_band", "level"])
    sheet.append(['=HYPERLINK("http://x")', make_uscc(), "42", "C", "small", "ordinary"])
    buffer = io.BytesIO()
    book.save(buffer)
    client.force_login(StaffFactory())
    response = _admin_import(client, buffer.getvalue(), name="c.xlsx", fmt="1")
    assert response.status_code == 200


def test_admin_import_over_the_size_cap_gets_a_message(client, db, monkeypatch):
    from django.contrib import admin

    from tests.factories import StaffFactory

    monkeypatch.setattr(admin.site._registry[MemberCompany], "max_import_bytes", 1024 * 1024)
    client.force_login(StaffFactory())
    response = _admin_import(client, b"name,uscc\n" + b"x,y\n" * 600_000)
    page = response.content.decode()
    assert "文件大于 1 MB" in page
    assert not MemberCompany.objects.exists()
