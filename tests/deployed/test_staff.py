"""Journey 5, staff in the admin: decide the member's fee-relief request (the member is
mailed), import companies (a file with bad rows shows every error and writes nothing, a good
file creates its rows), export the signatures (a workbook that opens, one row per signature
listed), raise a full session's capacity (the first on the waiting list gets the seat and a
mail) and move that session (its registrants are told the new time)."""

import csv
import datetime
import random
import re
import secrets

import openpyxl
import pytest

from cqa_portal.core.validators import USCC_ALPHABET, uscc_check_char

from .harness import MEMBER, STAFF, admin_save, zh, zh_n

pytestmark = pytest.mark.browser

MEMBER_COMPANY = "武汉华信精密制造有限公司"  # members/demo.py: the demo member administers it
WORKSHOP = "实验设计（DOE）入门工作坊"  # courses/demo.py "u02": 30 seats taken, 3 waiting
FIRST_WAITING = "demo.attendee31@example.com"  # position 31, first on its waiting list
NEXT_WAITING = "demo.attendee32@example.com"
HEADERS = ["name", "uscc", "province", "industry_section", "size_band", "level"]


def _uscc(province: str) -> str:
    body = "91" + province + "0100" + "".join(random.choices(USCC_ALPHABET, k=9))  # noqa: S311
    return body + uscc_check_char(body + "0")


def _count(person, path: str) -> int:
    """The number of objects an admin list says it shows (after the page links, if any)."""
    person.goto(path)
    return int(re.findall(r"\d+", person.page.inner_text(".paginator"))[-1])


def _day_after(value: str) -> datetime.date:
    return datetime.date(*map(int, value.split("/"))) + datetime.timedelta(days=1)


def _messages(person) -> str:
    return (
        person.page.inner_text(".messagelist")
        if person.page.locator(".messagelist").count()
        else ""
    )


def _decide_the_members_relief_request(staff, mailbox) -> None:
    page = staff.page
    staff.goto(f"/admin/members/reliefrequest/?q={MEMBER_COMPANY}")
    row = page.locator("#result_list tbody tr", has=page.locator("a[href$='/decide/']"))
    assert row.count() == 1, page.inner_text("#result_list")  # one open request per year
    year = re.search(r"\b(20\d\d)\b", row.inner_text()).group(1)
    with page.expect_navigation():
        row.locator("a[href$='/decide/']").click()
    staff.checked()
    page.check("input[name=decision][value=approved]")
    page.fill("[name=note]", "经审核，情况属实，同意申请。")
    staff.submit("#content-main input[type=submit]")
    assert zh("The decision has been recorded and the company emailed.") in _messages(staff)
    assert zh("Approved") in page.inner_text("#content-main")
    subject = zh("Your %(year)s fee-relief request: %(status)s") % {
        "year": year,
        "status": zh("Approved"),
    }
    mail = mailbox.wait(MEMBER[0], subject)
    assert "经审核，情况属实，同意申请。" in mail.text and MEMBER_COMPANY in mail.text


def _wait_for_job(staff, timeout: float = 60) -> None:
    """On a job's page: reload (as its refresh does) until the job is done."""
    import time

    page = staff.page
    deadline = time.monotonic() + timeout
    while not page.locator("#job-status.job-status-done, #job-status.job-status-failed").count():
        assert time.monotonic() < deadline, page.inner_text("main")
        time.sleep(0.5)
        page.reload()
    staff.checked()
    assert page.locator("#job-status.job-status-done").count(), page.inner_text("main")


def _import_companies(staff, tmp_path) -> None:
    page = staff.page
    companies = "/admin/members/membercompany/"
    before = _count(staff, companies)
    token = secrets.token_hex(3)
    good = [
        (f"导入测试甲公司{token}", _uscc("42"), "湖北省", "制造业", "small", "ordinary"),
        (f"导入测试乙公司{token}", _uscc("11"), "11", "C", "medium", "council"),
    ]
    bad = tmp_path / "会员单位-有错误.csv"
    with open(bad, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        writer.writerow(good[0])  # a good row: written neither
        writer.writerow((f"坏代码{token}", "123", "42", "C", "small", "ordinary"))
        writer.writerow((f"坏省份{token}", _uscc("42"), "火星", "C", "small", "ordinary"))
    staff.goto(companies + "import/")
    page.set_input_files("#id_import_file", str(bad))
    page.select_option("#id_format", label="csv")
    staff.submit("#content form input[type=submit]")
    _wait_for_job(staff)  # the check runs in the worker; its page refreshes itself
    errors = {  # spreadsheet row (the header is row 1) -> its line in the table of problems
        row.locator("td").first.inner_text().strip(): row.inner_text()
        for row in page.locator("table.import-problems tbody tr").all()
    }
    assert sorted(errors) == ["3", "4"], errors  # the good first row (row 2) is not listed
    assert "统一社会信用代码应为 18 位，当前为 3 位。" in errors["3"]
    assert "未知的省份“火星”。" in errors["4"]
    assert page.locator("form[action$='/confirm/']").count() == 0
    assert page.locator("a[href$='/bad-rows.xlsx']").count() == 1
    assert _count(staff, companies) == before
    assert _count(staff, f"{companies}?q={token}") == 0

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    for row in good:
        sheet.append(row)
    xlsx = tmp_path / "会员单位.xlsx"
    workbook.save(xlsx)
    staff.goto(companies + "import/")
    page.set_input_files("#id_import_file", str(xlsx))
    page.select_option("#id_format", label="xlsx")
    staff.submit("#content form input[type=submit]")
    _wait_for_job(staff)
    assert zh("Every row is good: confirm to import them.") in page.inner_text("#job-status")
    staff.submit("form[action$='/confirm/'] button[type=submit]")
    _wait_for_job(staff)
    assert _count(staff, companies) == before + 2, page.inner_text("main")
    staff.goto(f"{companies}?q={token}")
    listed = page.inner_text("#result_list")
    assert good[0][0] in listed and good[1][0] in listed
    assert good[0][1] in listed and good[1][1] in listed


def _export_signatures(staff, tmp_path) -> None:
    page = staff.page
    listed = _count(staff, "/admin/pledges/signature/")
    assert listed > 0
    with page.expect_navigation():
        page.click(".object-tools a.export_link")
    staff.checked()
    page.select_option("#id_resource", label=zh("All signatures"))
    page.select_option("#id_format", label="xlsx")
    with page.expect_download() as download:
        page.click("#content form input[type=submit]")
    path = tmp_path / "signatures.xlsx"
    download.value.save_as(path)
    assert download.value.suggested_filename.endswith(".xlsx")
    rows = list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    assert len(rows) - 1 == listed, f"{len(rows) - 1} rows exported, {listed} listed"
    assert zh("signer's name") in " ".join(str(cell) for cell in rows[0])


def _raise_capacity_and_move(staff, mailbox) -> None:
    page = staff.page
    staff.goto(f"/admin/courses/session/?q={WORKSHOP}")
    with page.expect_navigation():
        page.click(f"#result_list a:has-text('{WORKSHOP}')")
    staff.checked()
    change = re.search(r"/admin/courses/session/\d+/change/", page.url).group(0)
    capacity = int(page.input_value("#id_capacity"))
    assert zh("%(confirmed)d confirmed, %(waiting)d waiting: see the registrations") % {
        "confirmed": capacity,
        "waiting": 3,
    } in page.inner_text("#content-main")

    admin_save(staff, change, {"capacity": str(capacity + 1)})
    moved_up = zh_n(
        "%(count)d person moved up from the waiting list.",
        "%(count)d people moved up from the waiting list.",
        1,
    )
    assert moved_up in _messages(staff), _messages(staff)
    seat_subject = zh("You have a seat: %(title)s") % {"title": WORKSHOP}
    seat = mailbox.wait(FIRST_WAITING, seat_subject)
    assert WORKSHOP in seat.text
    staff.goto(change)
    assert zh("%(confirmed)d confirmed, %(waiting)d waiting: see the registrations") % {
        "confirmed": capacity + 1,
        "waiting": 2,
    } in page.inner_text("#content-main")

    moved = {  # one day later (the admin shows dates as Y/m/d)
        field: f"{_day_after(page.input_value(f'#id_{field}')):%Y/%m/%d}"
        for field in ("starts_at_0", "ends_at_0")
    }
    day = _day_after(page.input_value("#id_starts_at_0"))
    admin_save(staff, change, moved)
    told = zh_n(
        "The time changed: %(count)d registrant is being told.",
        "The time changed: %(count)d registrants are being told.",
        capacity + 1 + 2,  # everyone confirmed and the two still waiting
    )
    assert told in _messages(staff), _messages(staff)
    subject = zh("New time: %(title)s") % {"title": WORKSHOP}
    for address in (MEMBER[0], FIRST_WAITING, NEXT_WAITING):
        notice = mailbox.wait(address, subject, timeout=60)
        assert f"{day.year}年{day.month}月{day.day}日" in notice.text, notice.text
    assert not [m for m in mailbox.to(NEXT_WAITING) if seat_subject in m.subject]


def test_staff_decide_import_export_and_change_a_session(visitor, mailbox, tmp_path):
    staff = visitor("staff")
    staff.login(*STAFF)
    _decide_the_members_relief_request(staff, mailbox)
    _import_companies(staff, tmp_path)
    _export_signatures(staff, tmp_path)
    _raise_capacity_and_move(staff, mailbox)
