"""The one export layer (cqa_portal.core.exports), and every staff export that uses it.

Each export is opened with openpyxl and with a CSV reader (utf-8-sig) after hostile values were
put in every text column: no cell may start with a formula trigger unescaped, numbers and dates
are typed cells, empty values are empty cells (not "None"), headers and sheet names are in
Chinese (the default language), CSV starts with the byte-order mark and says charset=utf-8.
"""

import datetime
import io
import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import models
from django.utils import timezone
from openpyxl import load_workbook

from courses.models import AttendanceRecord, Registration
from cqa_portal.core import exports
from members.models import MemberCompany, MembershipFee, ReliefRequest
from pledges.models import AllianceMember, CoSignature, Signature
from tests.courses.factories import AttendanceFactory, RegistrationFactory, SessionFactory
from tests.jobs import job_file
from tests.members.factories import CompanyFactory, FeeFactory, ReliefFactory, make_uscc, reason
from tests.pledges.factories import (
    AllianceFactory,
    AllianceMemberFactory,
    CoSignatureFactory,
    InitiativeFactory,
    SignatureFactory,
)
from tests.spreadsheets import (
    HOSTILE,
    TRIGGERS,
    assert_no_formula,
    assert_safe_workbook,
    csv_rows,
    workbook,
)
from tests.surveys.factories import COMPLETE, covid_survey, file_response

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")
ASCII_HEADERS = {"ID", "n"}
# XML turns a carriage return into a line feed when the workbook is read back.
XLSX_ESCAPED = {"'" + v for v in HOSTILE}  # lxml writes a carriage return as &#13;: kept


def hostile_text(model, value: str, *, skip=()) -> dict:
    """Every free-text column of the model set to the hostile value (cut to its length)."""
    values = {}
    for field in model._meta.concrete_fields:
        if (
            not isinstance(field, models.CharField | models.TextField)
            or isinstance(field, models.SlugField)
            or field.choices
            or field.name in skip
        ):
            continue
        values[field.name] = value[: field.max_length] if field.max_length else value
    return values


# --- the layer itself --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [*HOSTILE, "＋1", "－1", "＠x", "\n=1"])
def test_neutralise_prefixes_an_apostrophe(value):
    assert exports.neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["正常", "a=b", "1-2", "", None, 5, -2, Decimal("-3.5")])
def test_neutralise_leaves_other_values(value):
    assert exports.neutralise(value) == value


def test_cell_values_are_typed_and_empty_is_none():
    aware = datetime.datetime(2020, 3, 13, 2, 30, tzinfo=datetime.UTC)
    local = exports.cell_value(aware)
    assert local.tzinfo is None and (local.day, local.hour, local.minute) == (13, 10, 30)
    assert exports.cell_value(None) is None and exports.cell_value("") is None
    assert exports.cell_value(-2) == -2 and exports.cell_value(Decimal("1.50")) == Decimal("1.50")
    assert exports.cell_value(True) is True
    assert exports.cell_value(["甲", "乙"]) == "甲、乙"
    assert exports.cell_value(["-x", "y"]) == "'-x、y"


def test_sheet_titles_are_valid_and_unique():
    assert exports.sheet_title("a[b]:c*d?e/f\\g") == "a b  c d e f g"
    long = "交叉表" * 20
    assert len(exports.sheet_title(long)) == 31
    assert exports.sheet_title("表", ["表"]) == "表 (2)"
    assert exports.sheet_title("") == "Sheet"


def test_xlsx_writer_types_cells():
    sheet = exports.Sheet(
        title="测试/表",
        header=["文本", "数", "日期", "时间", "真假", "空"],
        rows=[["-2+3", -2, datetime.date(2020, 3, 13), timezone.now(), True, None]],
    )
    book = load_workbook(io.BytesIO(exports.xlsx_bytes([sheet])))
    assert book.sheetnames == ["测试 表"]
    cells = list(book.active.iter_rows(min_row=2))[0]
    assert cells[0].value == "'-2+3" and cells[0].data_type == "s"
    assert cells[1].value == -2 and cells[1].data_type == "n"
    assert cells[2].is_date and cells[3].is_date
    assert cells[3].value.tzinfo is None
    assert cells[4].data_type == "b"
    assert cells[5].value is None


def test_xlsx_writer_replaces_characters_xml_cannot_carry():
    sheet = exports.Sheet(title="t", header=["名称"], rows=[["\x01=1"], ["a\x0bb"], ["\x1b[0m"]])
    book = load_workbook(io.BytesIO(exports.xlsx_bytes([sheet])))
    assert [r[0] for r in book.active.iter_rows(min_row=2, values_only=True)] == [
        "\ufffd=1",
        "a\ufffdb",
        "\ufffd[0m",
    ]


def test_csv_writer_has_bom_and_neutralises():
    sheet = exports.Sheet(title="t", header=["名称", "数"], rows=[[v, 1] for v in HOSTILE])
    data = exports.csv_bytes(sheet)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    for value in HOSTILE:
        assert "'" + value.replace("\r", "") in text.replace("\r\n", "\n").replace("\r", "")


def test_content_disposition_is_safe_and_rfc5987():
    response = exports.csv_response(
        exports.Sheet(title="t", header=["a"], rows=[]), filename='会员/企业"; x=.csv'
    )
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; filename*=utf-8''")
    assert "/" not in disposition.split("''", 1)[1] and '"' not in disposition.split("''")[1]
    assert response["Content-Type"] == "text/csv; charset=utf-8"


# --- every export, with hostile values --------------------------------------------------------


def _admin_export(client, model, fmt: str, *, resource_index=0, query="", extra=None):
    model_admin = admin.site._registry[model]
    formats = model_admin.get_export_formats()
    format_index = next(i for i, f in enumerate(formats) if f().get_extension() == fmt)
    resource = model_admin.get_export_resource_classes(None)[resource_index]
    data = {"resource": resource_index, "format": format_index, **(extra or {})}
    for field in resource().get_export_order():
        data[f"{resource.__name__.lower()}_{field}"] = "on"
    opts = model._meta
    response = client.post(f"/admin/{opts.app_label}/{opts.model_name}/export/{query}", data)
    assert response.status_code == 200, response.content[:500]
    return response


@pytest.fixture
def hostile_world(db):
    """Rows of every exported model, one per hostile value, in every text column."""
    initiative = InitiativeFactory()
    alliance = AllianceFactory()
    session = SessionFactory(starts_at=timezone.now() - datetime.timedelta(days=1))
    survey = covid_survey()
    for value in HOSTILE:
        company = CompanyFactory(**hostile_text(MemberCompany, value, skip=["uscc"]))
        FeeFactory(company=company, amount_paid=Decimal("100.50"))
        ReliefFactory(
            company=company,
            reasons=[reason("production"), reason("costs")],
            submitted_at=timezone.now(),
            **hostile_text(ReliefRequest, value),
        )
        SignatureFactory(
            initiative=initiative,
            company=company,
            **hostile_text(Signature, value, skip=["link_key", "ip_hash"]),
        )
        CoSignatureFactory(alliance=alliance, **hostile_text(CoSignature, value, skip=["ip_hash"]))
        AllianceMemberFactory(alliance=alliance, **hostile_text(AllianceMember, value))
        registration = RegistrationFactory(
            session=session, **hostile_text(Registration, value, skip=["email", "language"])
        )
        AttendanceFactory(
            session=session, participants=1, email=registration.email, registration=registration
        )
        answers = {**COMPLETE, "comments": value.strip() or value}
        survey_company = CompanyFactory(name=value, uscc=make_uscc())
        file_response(survey, survey_company, answers)
    return {"session": session, "survey": survey}


ADMIN_EXPORTS = [
    (MemberCompany, 0),
    (MembershipFee, 0),
    (ReliefRequest, 0),
    (Signature, 0),
    (Signature, 1),
    (CoSignature, 0),
    (AllianceMember, 0),
    (Registration, 0),
    (AttendanceRecord, 0),
]


def _check_csv(response):
    rows = csv_rows(response)
    header, data = rows[0], rows[1:]
    assert data, "the export is empty"
    assert all(CJK.search(h) or h in ASCII_HEADERS for h in header), header
    for row in data:
        assert_no_formula(row)
        assert "None" not in row
    assert "filename*=utf-8''" in response["Content-Disposition"]
    return header, data


def _check_xlsx(response):
    book = workbook(response)
    assert_safe_workbook(book)
    for name in book.sheetnames:
        assert CJK.search(name), name
    for sheet in book.worksheets:
        header = [c.value for c in next(sheet.iter_rows(max_row=1))]
        assert all(CJK.search(str(h)) or h in ASCII_HEADERS for h in header), header
    return book


@pytest.mark.parametrize(("model", "resource_index"), ADMIN_EXPORTS)
def test_admin_csv_exports_are_safe(staff_client, hostile_world, model, resource_index):
    response = _admin_export(staff_client, model, "csv", resource_index=resource_index)
    _header, data = _check_csv(response)
    cells = [cell for row in data for cell in row]
    for value in HOSTILE:
        assert "'" + value in cells, value  # escaped, otherwise intact


@pytest.mark.parametrize(("model", "resource_index"), ADMIN_EXPORTS)
def test_admin_xlsx_exports_are_safe(staff_client, hostile_world, model, resource_index):
    book = _check_xlsx(_admin_export(staff_client, model, "xlsx", resource_index=resource_index))
    values = [c.value for row in book.active.iter_rows(min_row=2) for c in row]
    assert any(isinstance(v, str) and v.startswith("'＝1+1") for v in values)


def _rows_by_header(response):
    book = workbook(response)
    sheet = book.active
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    return book, header, [dict(zip(header, row, strict=True)) for row in rows[1:]]


def test_fee_export_types_numbers_and_dates(staff_client, hostile_world):
    book, header, rows = _rows_by_header(_admin_export(staff_client, MembershipFee, "xlsx"))
    assert book.sheetnames == ["会费"]
    row = rows[0]
    assert row["年度"].data_type == "n" and row["年度"].value == 2020
    assert row["应缴金额（元）"].data_type == "n" and row["应缴金额（元）"].value == 3000
    assert row["已缴金额（元）"].value == 100.5
    assert row["缴费截止日期"].is_date
    assert row["状态"].value == "应缴"
    assert row["统一社会信用代码"].value.startswith("91")


def test_relief_export_has_labels_not_ids_or_codes(staff_client, hostile_world):
    book, header, rows = _rows_by_header(_admin_export(staff_client, ReliefRequest, "xlsx"))
    assert book.sheetnames == ["会费减免申请"]
    companies = set(MemberCompany.objects.values_list("name", flat=True))
    for row in rows:
        assert row["单位"].value.lstrip("'") in companies
        assert row["类型"].value == "全额免除"
        assert row["状态"].value == "已提交"
        assert "、" in row["原因"].value and "," not in row["原因"].value
        assert not re.search(r"\d", row["原因"].value)
        assert row["会费年度"].data_type == "n"
        assert row["提交时间"].is_date and row["提交时间"].value.tzinfo is None
        assert row["申请减免金额（元）"].value is None  # empty, not "None"
    assert "production" not in str([c.value for r in rows for c in r.values()])


def test_signature_export_types_dates_and_booleans(staff_client, hostile_world):
    _book, header, rows = _rows_by_header(
        _admin_export(staff_client, Signature, "xlsx", resource_index=1)
    )
    row = rows[0]
    assert row["签名时间"].is_date and row["签名时间"].value.tzinfo is None
    assert row["已被工作人员隐藏"].data_type == "b"
    assert row["撤回时间"].value is None
    assert row["签名身份"].value == "质量工作者个人"
    assert row["省份"].value == "湖北省"


def test_company_export_headers_and_labels(staff_client, hostile_world):
    _book, header, rows = _rows_by_header(_admin_export(staff_client, MemberCompany, "xlsx"))
    assert "province" not in header and "省份" in header
    assert rows[0]["省份"].value == "湖北省" and rows[0]["状态"].value == "有效"
    assert rows[0]["入会日期"].is_date


def test_registrants_action_export(staff_client, hostile_world):
    response = staff_client.post(
        "/admin/courses/session/",
        {"action": "export_registrants", "_selected_action": [hostile_world["session"].pk]},
    )
    book = _check_xlsx(response)
    sheet = book.active
    assert book.sheetnames == ["报名名单"]
    rows = list(sheet.iter_rows(min_row=2))
    assert all(row[2].is_date and row[2].value.tzinfo is None for row in rows)
    assert all(row[0].data_type == "n" and row[7].data_type == "n" for row in rows)
    assert {row[3].value for row in rows} == XLSX_ESCAPED
    assert "filename*=utf-8''" in response["Content-Disposition"]


def test_survey_responses_csv(staff_client, hostile_world):
    survey = hostile_world["survey"]
    header, data = _check_csv(
        job_file(staff_client, f"/surveys/{survey.slug}/staff/export/responses.csv")
    )
    assert len(data) == len(HOSTILE)
    assert not any("other (details)" in h for h in header)
    assert any(h.endswith("其他（说明）") for h in header)


def test_survey_responses_xlsx(staff_client, hostile_world):
    survey = hostile_world["survey"]
    book = _check_xlsx(
        job_file(staff_client, f"/surveys/{survey.slug}/staff/export/responses.xlsx")
    )
    rows = list(book.active.iter_rows())
    header = [c.value for c in rows[0]]
    question = survey.questions.get(code="staff_back_pct")
    pct = header.index(next(h for h in header if h.endswith(f". {question.label}")))
    submitted = header.index("提交时间")
    for row in rows[1:]:
        assert row[pct].data_type == "n" and row[pct].value == 60
        assert row[submitted].is_date
    assert {row[0].value for row in rows[1:]} == XLSX_ESCAPED


def test_survey_summary_xlsx(staff_client, hostile_world):
    survey = hostile_world["survey"]
    book = _check_xlsx(job_file(staff_client, f"/surveys/{survey.slug}/staff/export/summary.xlsx"))
    assert "交叉表（地区）" in book.sheetnames
    assert not any("region" in name or "industry" in name for name in book.sheetnames)


def test_survey_summary_sheet_names_in_english(staff_client, hostile_world):
    survey = hostile_world["survey"]
    staff_client.cookies["django_language"] = "en"
    response = job_file(staff_client, f"/surveys/{survey.slug}/staff/export/summary.xlsx")
    assert "Cross-tab by Region" in workbook(response).sheetnames


def test_export_headers_follow_the_active_language(staff_client, hostile_world):
    staff_client.cookies["django_language"] = "en"
    rows = csv_rows(_admin_export(staff_client, ReliefRequest, "csv"))
    assert "company" in rows[0] and "status" in rows[0]
    assert rows[1][rows[0].index("status")] == "Submitted"


def test_every_admin_export_goes_through_the_core_layer():
    from import_export.admin import ExportMixin

    from cqa_portal.core.admin import SpreadsheetExportMixin

    exporting = [a for a in admin.site._registry.values() if isinstance(a, ExportMixin)]
    assert {type(a).__name__ for a in exporting} >= {"MemberCompanyAdmin", "ReliefRequestAdmin"}
    for model_admin in exporting:
        assert isinstance(model_admin, SpreadsheetExportMixin), type(model_admin).__name__
    assert {a.model for a in exporting} >= {m for m, _i in ADMIN_EXPORTS}


def test_attendance_export_types_numbers_and_names(staff_client, hostile_world):
    _book, header, rows = _rows_by_header(_admin_export(staff_client, AttendanceRecord, "xlsx"))
    assert header[:4] == ["场次编号", "课程", "开始时间（北京时间）", "参与人次"]
    assert all(r["参与人次"].data_type == "n" and r["开始时间（北京时间）"].is_date for r in rows)
    assert {r["姓名"].value for r in rows} == XLSX_ESCAPED


def test_no_trigger_list_drift():
    assert set(TRIGGERS) == set(exports.FORMULA_TRIGGERS)


def test_csv_export_is_streamed(staff_client, hostile_world):
    """The CSV is a stream: the response returns before any row is read."""
    response = _admin_export(staff_client, Signature, "csv", resource_index=1)
    assert response.streaming
    assert len(csv_rows(response)) == len(HOSTILE) + 1


@pytest.mark.parametrize(("model", "resource_index"), ADMIN_EXPORTS)
def test_admin_export_page_still_offered(staff_client, model, resource_index):
    opts = model._meta
    response = staff_client.get(f"/admin/{opts.app_label}/{opts.model_name}/export/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "csv" in html.lower() and "xlsx" in html.lower()


def test_export_selected_action_exports_only_the_selection(staff_client, hostile_world):
    chosen = ReliefRequest.objects.order_by("pk")[:2]
    pks = [str(r.pk) for r in chosen]
    page = staff_client.post(
        "/admin/members/reliefrequest/",
        {"action": "export_admin_action", "_selected_action": pks},
    )
    assert page.status_code == 200
    response = _admin_export(staff_client, ReliefRequest, "csv", extra={"export_items": pks})
    rows = csv_rows(response)
    assert sorted(row[0] for row in rows[1:]) == sorted(pks)
