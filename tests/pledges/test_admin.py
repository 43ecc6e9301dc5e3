"""Staff: publishing, moderation, exports, co-sign approval and the alliance-member import."""

import csv
import io

import openpyxl
import pytest

from cqa_portal.core.exports import neutralise as escape_formula
from cqa_portal.core.models import AuditEntry
from pledges.exports import ConfirmedSignatureResource, SignatureResource
from pledges.models import AllianceMember, CoSignature, OpenLetter, Signature
from tests.factories import StaffFactory
from tests.jobs import admin_import, confirm_import
from tests.spreadsheets import body

from .factories import AllianceFactory, AllianceMemberFactory, SignatureFactory

pytestmark = pytest.mark.django_db

DANGEROUS = {
    "name": '=HYPERLINK("http://evil.example","点我")',
    "organisation": "+cmd|' /C calc'!A0",
    "title": "-2+3",
    "uscc": "@SUM(A1:A2)",
}


@pytest.fixture
def staff_client(client):
    staff = StaffFactory()
    client.force_login(staff)
    client.staff = staff
    return client


def export(client, *, resource_index: int, format_index: int, query: str = ""):
    resource = [ConfirmedSignatureResource, SignatureResource][resource_index]
    data = {"resource": resource_index, "format": format_index}
    for field in resource().get_export_order():
        data[f"{resource.__name__.lower()}_{field}"] = "on"
    response = client.post(f"/admin/pledges/signature/export/{query}", data)
    assert response.status_code == 200, response.content[:500]
    return response


def test_escape_formula():
    for value in ["=1+1", "+1", "-1", "@x", "\tx", "\rx", "\nx", "＝1", "＋1", "－1", "＠x"]:
        assert escape_formula(value) == "'" + value
    for value in ["正常", "a=b", "", None, 5, "1-2"]:
        assert escape_formula(value) == value


def test_csv_export_escapes_formulas_and_respects_confirmed_choice(staff_client, initiative):
    SignatureFactory(initiative=initiative, kind="enterprise", **DANGEROUS)
    SignatureFactory(initiative=initiative, name="未确认", status="pending", confirmed_at=None)
    SignatureFactory(initiative=initiative, name="被隐藏", is_hidden=True)

    response = export(staff_client, resource_index=0, format_index=0)
    assert response["Content-Type"].startswith("text/csv")
    text = body(response).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    joined = "\n".join(",".join(row) for row in rows[1:])
    assert "'=HYPERLINK" in joined and "'+cmd" in joined and "'-2+3" in joined and "'@SUM" in joined
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert "未确认" not in joined and "被隐藏" not in joined
    assert "签名人姓名" in rows[0][8] or "signer" in rows[0][8].lower()
    assert len(rows) == 2

    everything = body(export(staff_client, resource_index=1, format_index=0)).decode("utf-8-sig")
    assert "未确认" in everything and "被隐藏" in everything
    assert "link_key" not in everything and "ip_hash" not in everything


def test_xlsx_export_escapes_formulas(staff_client, initiative):
    signature = SignatureFactory(initiative=initiative, kind="enterprise", **DANGEROUS)
    response = export(staff_client, resource_index=1, format_index=1)
    workbook = openpyxl.load_workbook(io.BytesIO(body(response)))
    cells = [cell for row in workbook.active.iter_rows(min_row=2) for cell in row]
    values = [cell.value for cell in cells]
    assert f"'{DANGEROUS['name']}" in values
    assert not any(cell.data_type == "f" for cell in cells)
    assert signature.email in values


def test_export_respects_admin_filters(staff_client, initiative):
    SignatureFactory(initiative=initiative, name="湖北签名", province="42")
    SignatureFactory(initiative=initiative, name="广东签名", province="44")
    text = body(export(staff_client, resource_index=1, format_index=0, query="?province=44"))
    text = text.decode("utf-8-sig")
    assert "广东签名" in text and "湖北签名" not in text


def test_signature_list_filters_and_shows_confirmed_vs_unconfirmed(staff_client, initiative):
    SignatureFactory.create_batch(2, initiative=initiative)
    SignatureFactory(initiative=initiative, status="pending", confirmed_at=None)
    response = staff_client.get("/admin/pledges/signature/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "已确认 2" in html and "未确认 1" in html
    for query in [
        f"?initiative__id__exact={initiative.pk}",
        "?kind__exact=individual",
        "?status__exact=pending",
        "?province__exact=42",
        "?created_at__year=2020",
        "?is_hidden__exact=0",
    ]:
        assert staff_client.get(f"/admin/pledges/signature/{query}").status_code == 200, query
    pending = staff_client.get("/admin/pledges/signature/?status__exact=pending").content.decode()
    assert "已确认 0" in pending and "未确认 1" in pending
    signature = Signature.objects.first()
    assert staff_client.get(f"/admin/pledges/signature/{signature.pk}/change/").status_code == 200
    assert staff_client.get("/admin/pledges/signature/add/").status_code == 403


def test_moderation_actions_are_logged(staff_client, initiative, recount):
    signature = SignatureFactory(initiative=initiative, name="垃圾广告")
    recount(initiative)
    staff_client.post(
        "/admin/pledges/signature/", {"action": "hide", "_selected_action": [signature.pk]}
    )
    signature.refresh_from_db()
    assert signature.is_hidden
    entry = AuditEntry.objects.get(action="pledges.signature.hidden")
    assert entry.actor == staff_client.staff
    assert (entry.from_state, entry.to_state) == ("visible", "hidden")
    assert 'id="count-total">0<' in staff_client.get("/open-letter/").content.decode()

    staff_client.post(
        "/admin/pledges/signature/", {"action": "show", "_selected_action": [signature.pk]}
    )
    assert 'id="count-total">1<' in staff_client.get("/open-letter/").content.decode()

    staff_client.post(
        "/admin/pledges/signature/", {"action": "erase", "_selected_action": [signature.pk]}
    )
    signature.refresh_from_db()
    assert signature.status == "withdrawn" and signature.name == "" and signature.email == ""
    assert AuditEntry.objects.get(action="pledges.signature.withdrawn").actor == staff_client.staff
    assert 'id="count-total">0<' in staff_client.get("/open-letter/").content.decode()


def test_staff_publish_a_letter_with_english_version_and_it_is_logged(staff_client, initiative):
    data = {
        "title": "第二封公开信",
        "slug": "second-letter",
        "date": "2020-04-01",
        "addressees": "全体会员",
        "body": "正文<script>alert(1)</script>",
        "title_en": "Second letter",
        "addressees_en": "All members",
        "body_en": "Body",
        "initiative": initiative.pk,
        "is_published": "on",
        "commitments-TOTAL_FORMS": "1",
        "commitments-INITIAL_FORMS": "0",
        "commitments-0-order": "1",
        "commitments-0-text": "新承诺",
        "commitments-0-text_en": "New commitment",
        "core-auditentry-content_type-object_id-TOTAL_FORMS": "0",
        "core-auditentry-content_type-object_id-INITIAL_FORMS": "0",
    }
    response = staff_client.post("/admin/pledges/openletter/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    letter = OpenLetter.objects.get(slug="second-letter")
    assert letter.published_at is not None
    assert letter.commitments.get().text_en == "New commitment"
    assert AuditEntry.objects.get(action="pledges.openletter.published").actor == staff_client.staff
    html = staff_client.get("/open-letter/").content.decode()
    assert "第二封公开信" in html and "新承诺" in html and "<script>alert(1)" not in html
    change = staff_client.get(f"/admin/pledges/openletter/{letter.pk}/change/")
    assert change.status_code == 200
    assert "&lt;script" not in change.content.decode().split("pledges-preview", 1)[1][:300]


def test_cosign_application_is_public_only_after_staff_approval(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    AllianceFactory()
    form = {
        "organisation": "某省机械行业协会",
        "organisation_type": "association",
        "uscc": "",
        "province": "37",
        "website": "https://assoc.example.org",
        "contact_name": "赵秘书长",
        "contact_email": "zhao@assoc.example.org",
        "privacy_consent": "on",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/alliance/co-sign/", form)
    assert response.status_code == 302 and response["Location"] == "/alliance/co-sign/thanks/"
    application = CoSignature.objects.get()
    assert application.status == "pending" and application.consent_at
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["zhao@assoc.example.org"]
    assert "某省机械行业协会" not in client.get("/alliance/").content.decode()

    # Applying again does not create a second application.
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/alliance/co-sign/", form)
    assert CoSignature.objects.count() == 1

    staff = StaffFactory()
    client.force_login(staff)
    assert client.get(f"/admin/pledges/cosignature/{application.pk}/change/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/pledges/cosignature/",
            {"action": "approve", "_selected_action": [application.pk]},
        )
    application.refresh_from_db()
    assert application.status == "approved" and application.decided_by == staff
    entry = AuditEntry.objects.get(action="pledges.cosignature.approved")
    assert (entry.actor, entry.from_state, entry.to_state) == (staff, "pending", "approved")
    assert "获批准" in mailoutbox[-1].subject
    client.logout()
    html = client.get("/alliance/").content.decode()
    assert "某省机械行业协会" in html and 'href="https://assoc.example.org"' in html
    assert "赵秘书长" not in html and "zhao@assoc.example.org" not in html

    # Withdrawing the approval hides it again.
    client.force_login(staff)
    client.post(
        "/admin/pledges/cosignature/", {"action": "reject", "_selected_action": [application.pk]}
    )
    client.logout()
    assert "某省机械行业协会" not in client.get("/alliance/").content.decode()


def test_cosign_application_bad_input(client):
    AllianceFactory()
    response = client.post(
        "/alliance/co-sign/",
        {"organisation": "", "uscc": "123", "contact_email": "x", "privacy_consent": ""},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "统一社会信用代码应为 18 位" in html
    assert "请阅读并同意隐私声明后继续。" in html
    assert not CoSignature.objects.exists()


def test_cosign_honeypot(client):
    AllianceFactory()
    response = client.post("/alliance/co-sign/", {"homepage_url": "x", "organisation": "机器人"})
    assert response.status_code == 302
    assert not CoSignature.objects.exists()


def _upload(client, content: bytes, name="members.csv", format_index=0):
    return admin_import(
        client, "/admin/pledges/alliancemember/import/", content, name=name, fmt=format_index
    )


def test_alliance_member_import_reports_bad_rows_with_numbers_and_writes_nothing(staff_client):
    alliance = AllianceFactory(slug="resumption-alliance")
    AllianceMemberFactory(alliance=alliance, name="中国质量协会")
    content = (
        "alliance,name,name_en,short_name,website,joined_on,order,is_sample\n"
        "resumption-alliance,新协会甲,Assoc A,甲,https://a.example.org,2020-03-13,2,0\n"
        "resumption-alliance,,Nameless,无,https://b.example.org,2020-03-13,3,0\n"
        "no-such-alliance,新协会丙,Assoc C,丙,not a url,13/03/2020,4,0\n"
    ).encode()
    response = _upload(staff_client, content)
    assert response.status_code == 200
    html = response.content.decode()
    problems = response.context["report"]["problems"]
    columns: dict[int, set] = {}
    for problem in problems:  # rows as the spreadsheet numbers them: the header is row 1
        columns.setdefault(problem["row"], set()).add(problem["column"])
    assert columns == {3: {"name"}, 4: {"alliance", "website", "joined_on"}}
    assert "没有网址名称为“no-such-alliance”的联盟。" in html
    assert "此字段不能为空。" in html
    assert not response.context["can_confirm"]
    assert AllianceMember.objects.count() == 1


def test_alliance_member_import_and_export_round_trip(staff_client):
    alliance = AllianceFactory(slug="resumption-alliance")
    content = (
        "alliance,name,name_en,short_name,website,joined_on,order,is_sample\n"
        "resumption-alliance,新协会甲,Assoc A,甲,https://a.example.org,2020-03-13,2,0\n"
        ",新协会乙,Assoc B,乙,,2020-03-13,3,1\n"
    ).encode()
    preview = _upload(staff_client, content)
    assert preview.status_code == 200
    confirm_import(staff_client, preview)
    assert list(alliance.members.values_list("name", "is_sample")) == [
        ("新协会甲", False),
        ("新协会乙", True),
    ]
    exported = staff_client.post(
        "/admin/pledges/alliancemember/export/",
        {"resource": 0, "format": 0, **{
            f"alliancememberresource_{f}": "on"
            for f in ["alliance", "name", "name_en", "short_name", "website", "joined_on",
                      "order", "is_sample"]
        }},
    )  # fmt: skip
    text = body(exported).decode("utf-8-sig")
    assert "resumption-alliance,新协会甲,Assoc A" in text
