import io

import tablib

from members.models import MemberCompany, MembershipFee
from members.resources import CompanyResource, FeeResource, import_report
from tests.jobs import admin_import
from tests.spreadsheets import body

from .factories import CompanyFactory, make_uscc

HEADERS = ["name", "uscc", "province", "industry_section", "size_band", "level"]


def _dataset(rows, headers=HEADERS):
    return tablib.Dataset(*rows, headers=headers)


def _import(dataset, resource=None):
    resource = resource or CompanyResource()
    return resource.import_data(
        dataset, dry_run=False, use_transactions=True, rollback_on_validation_errors=True
    )


def test_good_rows_import_with_chinese_names_and_flag_check_failures(db):
    rows = [
        ("甲公司", make_uscc("42"), "湖北省", "制造业", "small", "ordinary"),
        ("乙公司", make_uscc("11"), "11", "C", "大型（1000 人及以上）", "理事单位"),
        ("丙公司", "91350100M0001TGQXM", "Fujian", "I", "micro", "ordinary"),
    ]
    result = _import(_dataset(rows))
    assert not result.has_errors() and not result.has_validation_errors(), import_report(result)
    assert MemberCompany.objects.count() == 3
    company = MemberCompany.objects.get(name="乙公司")
    assert (company.province, company.industry_section, company.size_band) == ("11", "C", "large")
    assert company.level.code == "council"
    assert company.status == "active"
    assert MemberCompany.objects.get(name="丙公司").uscc_needs_review is True


def test_any_bad_row_reports_every_bad_row_and_writes_nothing(db):
    existing = CompanyFactory()
    duplicate = make_uscc("42")
    rows = [
        ("好公司", make_uscc("42"), "42", "C", "small", "ordinary"),
        ("坏代码", "NOT-A-CODE", "42", "C", "small", "ordinary"),
        ("坏省份", make_uscc("42"), "火星", "C", "small", "ordinary"),
        ("坏行业", make_uscc("42"), "42", "Z", "small", "ordinary"),
        ("重复一", duplicate, "42", "C", "small", "ordinary"),
        ("重复二", duplicate, "42", "C", "small", "ordinary"),
    ]
    result = _import(_dataset(rows))
    report = "\n".join(import_report(result))
    assert MemberCompany.objects.count() == 1  # only the factory's
    assert MemberCompany.objects.get() == existing
    # Rows as the spreadsheet numbers them: the header is row 1, the first data row 2.
    assert "第 3 行" in report and "18 位" in report
    assert "第 4 行" in report and "未知的省份“火星”" in report
    assert "第 5 行" in report and "未知的行业门类“Z”" in report
    assert "第 7 行" in report and "统一社会信用代码重复：第 6 行也是" in report
    assert "第 2 行" not in report and "第 6 行:" not in report


def test_missing_columns_are_reported(db):
    result = _import(_dataset([("甲", make_uscc())], headers=["name", "uscc"]))
    assert "缺少必需的列：province, industry_section, size_band, level" in "\n".join(
        import_report(result)
    )
    assert not MemberCompany.objects.exists()


def test_existing_code_updates_the_company(db):
    company = CompanyFactory(name="旧名称")
    result = _import(_dataset([("新名称", company.uscc.lower(), "42", "C", "small", "ordinary")]))
    assert not result.has_validation_errors(), import_report(result)
    company.refresh_from_db()
    assert company.name == "新名称"
    assert MemberCompany.objects.count() == 1


def test_admin_import_shows_row_errors_and_writes_nothing(client, staff):
    csv = "name,uscc,province,industry_section,size_band,level\n甲,123,42,C,small,ordinary\n"
    client.force_login(staff)
    response = admin_import(
        client, "/admin/members/membercompany/import/", csv.encode("utf-8"), name="c.csv"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "18 位" in html
    assert not MemberCompany.objects.exists()


def test_admin_export_xlsx_escapes_formulas(client, staff):
    CompanyFactory(name='=HYPERLINK("http://evil")')
    from django.contrib import admin

    from members.models import MemberCompany as Model

    formats = admin.site._registry[Model].get_export_formats()
    xlsx = next(i for i, f in enumerate(formats) if f().get_extension() == "xlsx")
    client.force_login(staff)
    response = client.post(
        "/admin/members/membercompany/export/",
        {
            "format": str(xlsx),
            "resource": "0",
            **{f"companyresource_{f}": "on" for f in ["name", "uscc"]},
        },
    )
    assert response.status_code == 200
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(body(response))).active
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    assert '=HYPERLINK("http://evil")' not in values


def test_fee_import_validates_amounts_and_company(db):
    company = CompanyFactory()
    headers = ["uscc", "year", "amount_due", "relief_amount", "amount_paid", "due_date"]
    rows = [
        (company.uscc, 2020, "3000", "0", "3000", "2020-03-31"),
        (make_uscc(), 2020, "3000", "0", "0", "2020-03-31"),
        (company.uscc, 2021, "-1", "0", "0", "2021-03-31"),
        (company.uscc, 2022, "3000", "4000", "0", "2022-03-31"),
    ]
    result = _import(_dataset(rows, headers), FeeResource())
    report = "\n".join(import_report(result))
    assert not MembershipFee.objects.exists()
    assert "第 3 行" in report and "没有会员单位的统一社会信用代码是" in report
    assert "第 4 行" in report
    assert "第 5 行" in report and "减免金额不能超过应缴金额" in report
    result = _import(_dataset(rows[:1], headers), FeeResource())
    assert not result.has_validation_errors()
    assert MembershipFee.objects.get().status == "paid"
