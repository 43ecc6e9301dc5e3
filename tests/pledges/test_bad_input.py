"""Property-based: random and hostile input to the signing and co-sign forms, the company
signing actions, the signature links, the wall filters and the alliance-member import never
causes a 500 or a partial write, and always gets a message in Chinese."""

import io
from urllib.parse import quote

import pytest
import tablib
from django.core import signing
from hypothesis import event, given
from hypothesis import strategies as st

from cqa_portal.core.models import AuditEntry, OutboxMessage
from pledges.exports import AllianceMemberResource
from pledges.models import Alliance, AllianceMember, CoSignature, Signature, SignatureTally
from pledges.services import CONFIRM_LINK, WITHDRAW_LINK
from tests.hostile import (
    CJK,
    ERROR_BLOCK,
    LONG_EMAILS,
    SETTINGS,
    assert_chinese,
    assert_chinese_error,
    page_import_errors,
)
from tests.hostile import xlsx as _xlsx
from tests.jobs import admin_import, confirm_import

from .factories import (
    PILOT_USCC,
    VALID_USCC,
    AllianceFactory,
    AllianceMemberFactory,
    MembershipFactory,
)

SCRIPT = "<script>alert(1)</script>"
HOSTILE = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "=cmd|' /C calc'!A0",
            '=HYPERLINK("http://evil.example","点我")',
            SCRIPT,
            "'; DROP TABLE pledges_signature; --",
            "\x00\x01\x02",
            "a\x00b",
            "\r\nSet-Cookie: x=1",
            "９１１１００００６０００３７３４１Ｌ",
            "-1e309",
            "NaN",
            "9" * 400,
            "-" + "9" * 30,
            "𠮷" * 50,
            "😀" * 120,
            "x" * 5000,
        ]
    ),
)
HUGE_IDS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, int("9" * 400)]),
)


# Addresses the validator accepts but the database column (254 characters) cannot hold.
# ("İ" lower-cases to two characters: a valid address can outgrow the column once normalised.)
def valid_or(value):
    """Mostly a good value, sometimes a hostile one: reaches the service as well as the form."""
    return st.one_of(st.just(value), HOSTILE)


def import_messages(result) -> list[str]:
    """Every message an import shows: whole-file errors, row errors, invalid cells."""
    messages = [str(error.error) for error in result.base_errors]
    messages += [str(e.error) for _number, errors in result.row_errors() for e in errors]
    for row in result.invalid_rows:
        messages += [str(m) for ms in row.error_dict.values() for m in ms]
    return messages


def snapshot() -> tuple:
    return (
        Signature.objects.count(),
        SignatureTally.objects.count(),
        CoSignature.objects.count(),
        OutboxMessage.objects.count(),
        AuditEntry.objects.count(),
    )


@pytest.fixture
def open_limits(settings):
    # Many examples come from one test address: the per-IP throttle is tested elsewhere.
    settings.PLEDGES_SIGN_RATE = (10**6, 3600)
    settings.PLEDGES_COSIGN_RATE = (10**6, 3600)


# --- signing -----------------------------------------------------------------------------------


@SETTINGS
@given(
    kind=st.one_of(st.sampled_from(["enterprise", "individual"]), HOSTILE),
    organisation=valid_or("湖北示范精密制造有限公司"),
    uscc=st.one_of(st.sampled_from([VALID_USCC, PILOT_USCC, ""]), HOSTILE),
    name=valid_or("王质量"),
    title=valid_or("质量总监"),
    province=st.one_of(st.sampled_from(["42", "11", "81"]), HOSTILE),
    email=st.one_of(
        st.sampled_from(["Quality.Head@Example.com", "li@example.com"]),
        HOSTILE,
        LONG_EMAILS,
        st.emails(),
    ),
    show_name=st.one_of(st.just("on"), st.just(""), HOSTILE),
    consent=st.one_of(st.just("on"), st.just(""), HOSTILE),
    honeypot=st.one_of(st.just(""), st.just(""), HOSTILE),
)
def test_signing_never_500_and_writes_nothing_when_refused(
    client,
    initiative,
    open_limits,
    kind,
    organisation,
    uscc,
    name,
    title,
    province,
    email,
    show_name,
    consent,
    honeypot,
):
    prefix = {"enterprise": "ent", "individual": "ind"}.get(kind, "ent")
    fields = {
        "organisation": organisation,
        "uscc": uscc,
        "name": name,
        "title": title,
        "province": province,
        "email": email,
        "show_name": show_name,
        "privacy_consent": consent,
    }
    data = {
        "kind": kind,
        "homepage_url": honeypot,
        **{f"{prefix}-{k}": v for k, v in fields.items()},
    }
    before = snapshot()
    response = client.post(f"/initiatives/{initiative.slug}/sign/", data)
    assert response.status_code in (200, 302)
    assert SCRIPT not in response.content.decode()  # what was sent is shown escaped
    event(f"status {response.status_code}")
    if response.status_code == 302:
        assert response["Location"] == f"/initiatives/{initiative.slug}/sign/thanks/"
        if honeypot and kind in ("enterprise", "individual"):
            assert snapshot() == before  # a bot is answered like a person, nothing stored
        else:
            signature = Signature.objects.get(email=email.strip().lower())
            assert signature.status == Signature.Status.PENDING
            assert "\x00" not in signature.name + signature.organisation + signature.title
    else:
        assert snapshot() == before
        assert_chinese_error(response.content.decode(), fields.values())


@SETTINGS
@given(
    organisation=valid_or("某省机械行业协会"),
    organisation_en=st.one_of(st.just(""), HOSTILE),
    organisation_type=st.one_of(st.sampled_from(["association", "enterprise"]), HOSTILE),
    uscc=st.one_of(st.sampled_from([VALID_USCC, PILOT_USCC, ""]), HOSTILE),
    province=st.one_of(st.sampled_from(["37", "65"]), HOSTILE),
    website=st.one_of(st.sampled_from(["", "https://assoc.example.org", "assoc.cn"]), HOSTILE),
    contact_name=valid_or("赵秘书长"),
    contact_email=st.one_of(st.just("zhao@assoc.example.org"), HOSTILE, LONG_EMAILS, st.emails()),
    contact_phone=st.one_of(st.just("027-12345678"), HOSTILE),
    statement=st.one_of(st.just(""), HOSTILE),
    consent=st.one_of(st.just("on"), HOSTILE),
    honeypot=st.one_of(st.just(""), st.just(""), HOSTILE),
)
def test_cosign_application_never_500_and_writes_nothing_when_refused(
    client,
    db,
    open_limits,
    organisation,
    organisation_en,
    organisation_type,
    uscc,
    province,
    website,
    contact_name,
    contact_email,
    contact_phone,
    statement,
    consent,
    honeypot,
):
    if not Alliance.objects.exists():
        AllianceFactory()
    fields = {
        "organisation": organisation,
        "organisation_en": organisation_en,
        "organisation_type": organisation_type,
        "uscc": uscc,
        "province": province,
        "website": website,
        "contact_name": contact_name,
        "contact_email": contact_email,
        "contact_phone": contact_phone,
        "statement": statement,
        "privacy_consent": consent,
    }
    before = snapshot()
    response = client.post("/alliance/co-sign/", {**fields, "homepage_url": honeypot})
    assert response.status_code in (200, 302)
    assert SCRIPT not in response.content.decode()
    event(f"status {response.status_code}")
    if response.status_code == 302:
        assert response["Location"] == "/alliance/co-sign/thanks/"
        if honeypot:
            assert snapshot() == before
    else:
        assert snapshot() == before
        assert_chinese_error(response.content.decode(), fields.values())


GROWING_EMAIL = "a" * 60 + "@" + ".".join(["İ" * 60] * 3) + ".cn"  # 246 chars, 426 lower-cased


def test_an_email_that_outgrows_the_column_when_lower_cased_is_refused(
    client, initiative, open_limits
):
    AllianceFactory()
    before = snapshot()
    sign = client.post(
        f"/initiatives/{initiative.slug}/sign/",
        {"kind": "individual", "ind-name": "李工", "ind-organisation": "某检验中心",
         "ind-province": "44", "ind-email": GROWING_EMAIL, "ind-privacy_consent": "on"},
    )  # fmt: skip
    cosign = client.post(
        "/alliance/co-sign/",
        {"organisation": "某协会", "organisation_type": "association", "province": "37",
         "contact_name": "赵", "contact_email": GROWING_EMAIL, "privacy_consent": "on"},
    )  # fmt: skip
    for response in (sign, cosign):
        assert response.status_code == 200
        assert "254" in " ".join(ERROR_BLOCK.findall(response.content.decode()))
    assert snapshot() == before


# --- member company actions, links, filters ---------------------------------------------------


@pytest.fixture
def company_admin(client, initiative):
    membership = MembershipFactory()
    client.force_login(membership.user)
    return membership


@SETTINGS
@given(show_name=HOSTILE, next_url=HOSTILE, withdraw=st.booleans())
def test_company_sign_and_withdraw_never_500_and_never_redirect_off_site(
    client, initiative, company_admin, show_name, next_url, withdraw
):
    action = "withdraw" if withdraw else ""
    url = f"/initiatives/{initiative.slug}/sign/company/{action + '/' if action else ''}"
    response = client.post(url, {"show_name": show_name, "next": next_url})
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "\n" not in location and "\r" not in location
    assert Signature.objects.filter(company=company_admin.company).count() <= 1


@SETTINGS
@given(slug=HOSTILE, what=st.sampled_from(["sign/", "sign/company/", "sign/company/withdraw/"]))
def test_hostile_initiative_slugs_are_404(client, company_admin, open_limits, slug, what):
    before = snapshot()
    response = client.post(f"/initiatives/{quote(slug, safe='')}/{what}", {"kind": "individual"})
    assert response.status_code in (404, 405)
    assert snapshot() == before


@SETTINGS
@given(
    token=st.one_of(
        HOSTILE,
        HUGE_IDS.map(lambda n: f"{n}.abc:def"),
        HUGE_IDS.map(lambda n: signing.Signer(salt=WITHDRAW_LINK.salt).sign(f"{n}.key")),
        HUGE_IDS.map(lambda n: signing.Signer(salt=CONFIRM_LINK.salt).sign(f"{n}.key.1")),
        HUGE_IDS.map(lambda n: signing.TimestampSigner(salt=CONFIRM_LINK.salt).sign(f"{n}.key")),
    ),
    which=st.sampled_from(["confirm", "withdraw"]),
    method=st.sampled_from(["get", "post"]),
)
def test_hostile_signature_links_get_a_readable_page(client, initiative, token, which, method):
    before = snapshot()
    response = getattr(client, method)(f"/signatures/{which}/{quote(token, safe='')}/")
    assert response.status_code in (404, 405, 410)
    assert snapshot() == before
    if response.status_code in (404, 410):
        assert CJK.search(response.content.decode())


@SETTINGS
@given(kind=HOSTILE, province=HOSTILE, page=st.one_of(HOSTILE, HUGE_IDS.map(str)))
def test_wall_filters_never_500(client, initiative, kind, province, page):
    response = client.get(
        f"/initiatives/{initiative.slug}/signatures/",
        {"kind": kind, "province": province, "page": page},
    )
    assert response.status_code == 200


# --- the alliance-member import ---------------------------------------------------------------

COLUMNS = [
    "alliance",
    "name",
    "name_en",
    "short_name",
    "website",
    "joined_on",
    "order",
    "is_sample",
]


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.sampled_from(["resumption-alliance", ""]), HOSTILE),
            valid_or("新协会甲"),
            st.one_of(st.just(""), HOSTILE),
            st.one_of(st.just("甲"), HOSTILE),
            st.one_of(st.sampled_from(["", "https://a.example.org"]), HOSTILE),
            st.one_of(st.sampled_from(["2020-03-13"]), HOSTILE),
            st.one_of(st.sampled_from(["1", "", "70000"]), HOSTILE, HUGE_IDS.map(str)),
            st.one_of(st.sampled_from(["0", "1", ""]), HOSTILE),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_alliance_member_import_never_raises_and_is_all_or_nothing(db, rows):
    alliance = Alliance.objects.filter(slug="resumption-alliance").first() or AllianceFactory(
        slug="resumption-alliance"
    )
    if not alliance.members.exists():
        AllianceMemberFactory(alliance=alliance, name="中国质量协会")
    before = list(AllianceMember.objects.order_by("pk").values())
    dataset = tablib.Dataset(*[list(r) for r in rows], headers=COLUMNS)
    result = AllianceMemberResource().import_data(
        dataset, dry_run=False, use_transactions=True, rollback_on_validation_errors=True
    )
    if result.has_errors() or result.has_validation_errors():
        assert list(AllianceMember.objects.order_by("pk").values()) == before
        messages = import_messages(result)
        assert messages
        for message in messages:
            assert_chinese(message, [cell for row in rows for cell in row])
    else:
        names = {r[1].strip() for r in rows}
        assert names <= set(alliance.members.values_list("name", flat=True))
    AllianceMember.objects.exclude(name="中国质量协会").delete()


def _admin_import(client, content: bytes, name="members.csv", fmt="0"):
    return admin_import(
        client, "/admin/pledges/alliancemember/import/", content, name=name, fmt=fmt
    )


def test_admin_import_reads_gbk_csv(staff_client):
    AllianceFactory(slug="resumption-alliance")
    csv = (
        "alliance,name,name_en,short_name,website,joined_on,order,is_sample\n"
        "resumption-alliance,湖北省质量协会,Hubei QA,鄂质协,https://a.example.org,2020-03-13,1,0\n"
    )
    response = _admin_import(staff_client, csv.encode("gbk"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "确认导入" in html and response.context["report"]["totals"]["new"] == 1
    assert not AllianceMember.objects.exists()  # nothing before confirmation
    confirm_import(staff_client, response)
    assert AllianceMember.objects.get().short_name == "鄂质协"


@pytest.mark.parametrize(
    "content",
    [
        "alliance,name,joined_on\nresumption-alliance,协会,2020年3月13日\n".encode("gbk"),
        b"\x89PNG\r\n\x1a\n\x00\x00binary\xff\xfe",
        b"",
        b'alliance;name\n"unterminated,quote\n',
        b"only,header,row\n",
        b"name_en,website\nx,https://x.example\n",
        (
            "alliance,name,name_en,short_name,website,joined_on,order,is_sample\n"
            + "resumption-alliance,=1+1,x,y,=cmd|' /C calc'!A0,2020-03-13,1,0\n"
        ).encode(),
        (
            "alliance,name,name_en,short_name,website,joined_on,order,is_sample\n"
            + "".join(
                f"resumption-alliance,协会{n},x,y,not a url,2020-03-13,{n},0\n" for n in range(1000)
            )
        ).encode(),
    ],
    ids=[
        "gbk-bad-date",
        "binary",
        "empty",
        "broken-csv",
        "missing-columns",
        "no-name-column",
        "formulas",
        "many-bad-rows",
    ],
)
def test_admin_import_of_broken_files_shows_a_message_and_writes_nothing(staff_client, content):
    AllianceFactory(slug="resumption-alliance")
    response = _admin_import(staff_client, content)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Traceback" not in html
    assert "UnicodeDecodeError" not in html and "KeyError" not in html
    errors = page_import_errors(html)
    assert errors, html[-3000:]
    for error in errors:
        assert_chinese(error, [content.decode("utf-8", "replace")])
    assert not response.context.get("can_confirm")
    assert not AllianceMember.objects.exists()


def test_admin_import_confirmed_twice_imports_once(staff_client):
    AllianceFactory(slug="resumption-alliance")
    csv = "alliance,name,joined_on\nresumption-alliance,湖北省质量协会,2020-03-13\n"
    preview = _admin_import(staff_client, csv.encode())
    first = confirm_import(staff_client, preview)
    assert AllianceMember.objects.count() == 1
    second = confirm_import(staff_client, preview)  # double click, back button
    assert second.context["job"].pk == first.context["job"].pk
    assert AllianceMember.objects.count() == 1


@pytest.mark.parametrize(
    "data",
    [{}, {"format": "abc"}, {"format": "7"}, {"import_file_name": "../../etc/passwd"}],
    ids=["empty", "bad-format", "no-such-format", "other-file"],
)
def test_old_or_altered_confirmation_forms_get_a_message(staff_client, data):
    response = staff_client.post("/admin/pledges/alliancemember/process_import/", data, follow=True)
    assert response.status_code == 200
    assert not AllianceMember.objects.exists()
    assert any(CJK.search(str(m)) for m in response.context["messages"])


def test_admin_import_refuses_too_many_rows_at_once(staff_client):
    AllianceFactory(slug="resumption-alliance")
    rows = "".join(f"resumption-alliance,协会{n},2020-03-13\n" for n in range(1001))
    response = _admin_import(staff_client, f"alliance,name,joined_on\n{rows}".encode())
    assert response.status_code == 200
    html = response.content.decode()
    assert "文件有 1001 行" in html and "1000" in html
    assert "import-error-li" not in html  # one message for the file, none per row
    assert not response.context.get("can_confirm")
    assert not AllianceMember.objects.exists()


def test_admin_import_xlsx_with_formulas_stores_text_not_formulas(staff_client):
    from openpyxl import Workbook

    AllianceFactory(slug="resumption-alliance")
    book = Workbook()
    sheet = book.active
    sheet.append(COLUMNS)
    sheet.append(["resumption-alliance", '=HYPERLINK("http://x","y")', "", "", "", "2020-03-13"])
    sheet.append(["resumption-alliance", "=1+1", "", "", "", "2020-03-13", "=2*3", "0"])
    buffer = io.BytesIO()
    book.save(buffer)
    response = _admin_import(staff_client, buffer.getvalue(), name="m.xlsx", fmt="1")
    assert response.status_code == 200
    assert "Traceback" not in response.content.decode()
    assert not AllianceMember.objects.exists()


@pytest.mark.parametrize(
    "content",
    [
        b"PK\x03\x04 not really a workbook",
        b"\x00" * 1000,
        _xlsx(),
        _xlsx(COLUMNS),
        _xlsx([None, None, None], ["resumption-alliance", "协会", "2020-03-13"]),
        _xlsx(["alliance", "name", "joined_on"], ["resumption-alliance", "协会", 43903]),
        _xlsx(
            ["alliance", "name", "joined_on", "order"],
            ["resumption-alliance", "协会", "2020-03-13", float("inf")],
        ),  # fmt: skip
    ],
    ids=[
        "fake-zip",
        "nul-bytes",
        "empty-book",
        "header-only",
        "no-headers",
        "serial-date",
        "infinite-order",
    ],  # fmt: skip
)
def test_admin_import_of_broken_workbooks_shows_a_message_and_writes_nothing(staff_client, content):
    AllianceFactory(slug="resumption-alliance")
    response = _admin_import(staff_client, content, name="m.xlsx", fmt="1")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Traceback" not in html
    errors = page_import_errors(html)
    assert errors, html[-3000:]
    for error in errors:
        assert_chinese(error)
    assert not response.context.get("can_confirm")
    assert not AllianceMember.objects.exists()


def test_admin_import_rejects_huge_files(staff_client, settings):
    AllianceFactory(slug="resumption-alliance")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    response = _admin_import(staff_client, b"a" * (12 * 1024 * 1024))
    assert response.status_code in (200, 400, 413)
    assert "Traceback" not in response.content.decode(errors="replace")
    assert not AllianceMember.objects.exists()
