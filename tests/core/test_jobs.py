"""Background jobs (core/jobs.py): inline and through a real worker, the progress page with and
without JavaScript, owner-only access, failures, and import reports people can act on."""

from __future__ import annotations

import csv
import io
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook, load_workbook

from courses.models import AttendanceRecord
from cqa_portal.core import jobs
from cqa_portal.core.models import Job
from members.models import MemberCompany
from tests.courses.factories import SessionFactory
from tests.factories import StaffFactory, UserFactory
from tests.jobs import admin_import, confirm_import, start_job
from tests.members.factories import CompanyFactory, make_uscc
from tests.spreadsheets import body
from tests.surveys.factories import COMPLETE, covid_survey, file_response

COMPANY_IMPORT = "/admin/members/membercompany/import/"
HEADER = ["name", "uscc", "province", "industry_section", "size_band", "level"]


@pytest.fixture
def failing_kinds():
    def crash(job, progress):
        raise RuntimeError("secret internal detail")

    def refuse(job, progress):
        raise jobs.JobError("这份文件已过期，请重新上传。")

    jobs.HANDLERS["test.crash"] = crash
    jobs.HANDLERS["test.refuse"] = refuse
    yield
    del jobs.HANDLERS["test.crash"], jobs.HANDLERS["test.refuse"]


def _job(owner, **fields) -> Job:
    fields.setdefault("title", "问卷答卷导出")
    return Job.objects.create(kind="surveys.export_responses", owner=owner, **fields)


def _xlsx(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- inline (the embedded default: no broker) ------------------------------------------------


def test_inline_export_job_is_done_when_the_page_opens(staff_client):
    survey = covid_survey()
    file_response(survey, CompanyFactory(), COMPLETE)
    page = start_job(staff_client, f"/surveys/{survey.slug}/staff/export/responses.xlsx")
    job = page.context["job"]
    html = page.content.decode()
    assert job.status == Job.Status.DONE and job.done == 1 and job.percent == 100
    assert "Refresh" not in page  # finished: no more refreshing
    assert f"/staff/jobs/{job.pk}/download/" in html
    response = staff_client.get(f"/staff/jobs/{job.pk}/download/")
    assert response["Cache-Control"] == "no-store"
    assert len(list(load_workbook(io.BytesIO(body(response))).active.iter_rows())) == 2
    assert not job.result_file.name.startswith(("media", "/"))  # private storage, relative


def test_a_running_job_page_refreshes_itself_and_shows_the_progress(staff_client):
    staff = StaffFactory()
    staff_client.force_login(staff)
    job = _job(staff, status=Job.Status.RUNNING, done=50, total=200)
    page = staff_client.get(f"/staff/jobs/{job.pk}/")
    html = page.content.decode()
    assert page["Refresh"] == "2"  # the browser reloads it: works without JavaScript
    assert '<progress id="job-progress" max="100" value="25"' in html
    assert "50 / 200" in html
    assert "/download/" not in html


def test_a_job_runs_once_however_often_its_task_arrives(staff_client):
    survey = covid_survey()
    page = start_job(staff_client, f"/surveys/{survey.slug}/staff/export/responses.csv")
    job = page.context["job"]
    first = job.result_file.name
    assert jobs.job_run(job_id=job.pk) == "skipped"
    job.refresh_from_db()
    assert job.result_file.name == first


def test_a_crashing_job_says_so_plainly(staff_client, failing_kinds):
    staff = StaffFactory()
    staff_client.force_login(staff)
    crash = Job.objects.create(kind="test.crash", owner=staff, title="会崩溃")
    refuse = Job.objects.create(kind="test.refuse", owner=staff, title="会拒绝")
    for job in (crash, refuse):
        assert jobs.job_run(job_id=job.pk) == Job.Status.FAILED
    html = staff_client.get(f"/staff/jobs/{crash.pk}/").content.decode()
    assert "门户出错" in html and "secret internal detail" not in html
    assert 'role="alert"' in html
    assert (
        "这份文件已过期，请重新上传。"
        in staff_client.get(f"/staff/jobs/{refuse.pk}/").content.decode()
    )


# --- access ------------------------------------------------------------------------------------


def test_only_the_owner_sees_a_job(client, db):
    owner = StaffFactory()
    job = _job(owner, status=Job.Status.DONE, report={"bad_rows": [[2, ["x"], "bad"]]})
    urls = [
        f"/staff/jobs/{job.pk}/",
        f"/staff/jobs/{job.pk}/download/",
        f"/staff/jobs/{job.pk}/bad-rows.csv",
    ]
    client.force_login(StaffFactory())  # another staff member
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/staff/jobs/{job.pk}/confirm/").status_code == 404
    assert job.title not in client.get("/staff/jobs/").content.decode()
    client.logout()
    for url in [*urls, "/staff/jobs/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    client.force_login(UserFactory())  # not staff: the admin's login
    response = client.get(f"/staff/jobs/{job.pk}/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_job_list_is_newest_first_with_a_fixed_number_of_queries(client, db):
    staff = StaffFactory()
    client.force_login(staff)
    _job(staff, title="旧的")
    client.get("/staff/jobs/")  # session and user loaded once
    with CaptureQueriesContext(connection) as few:
        client.get("/staff/jobs/")
    for n in range(20):
        _job(staff, status=Job.Status.DONE, title=f"任务{n}")
    with CaptureQueriesContext(connection) as many:
        html = client.get("/staff/jobs/").content.decode()
    assert len(few) == len(many)
    assert html.index("任务19") < html.index("任务0") < html.index("旧的")


# --- admin exports above the threshold -------------------------------------------------------


def test_large_admin_export_runs_as_a_job(staff_client, settings):
    settings.EXPORT_JOB_MIN_ROWS = 3
    CompanyFactory.create_batch(4)
    page = start_job(
        staff_client,
        "/admin/members/membercompany/export/",
        {
            "format": "1",
            "resource": "0",
            "companyresource_name": "on",
            "companyresource_uscc": "on",
        },
    )
    job = page.context["job"]
    assert job.kind == "core.admin_export" and job.status == Job.Status.DONE, job.error
    sheet = load_workbook(io.BytesIO(body(staff_client.get(f"/staff/jobs/{job.pk}/download/"))))
    rows = list(sheet.active.iter_rows(values_only=True))
    assert len(rows) == 5 and len(rows[0]) == 2


# --- import reports people can act on ----------------------------------------------------------


def test_bad_rows_are_listed_with_spreadsheet_rows_and_can_be_corrected_and_uploaded_again(
    staff_client,
):
    good = [["甲公司", make_uscc(), "湖北省", "制造业", "small", "ordinary"]]
    bad_code = ["乙公司", "NOT-A-CODE", "湖北省", "制造业", "small", "ordinary"]
    bad_province = ["丙公司", make_uscc(), "火星", "制造业", "small", "ordinary"]
    upload = _xlsx([HEADER, *good, bad_code, bad_province])
    page = admin_import(staff_client, COMPANY_IMPORT, upload, name="companies.xlsx", fmt="1")
    report = page.context["report"]
    assert not page.context["can_confirm"] and not MemberCompany.objects.exists()
    cells = {(p["row"], p["column"], p["value"]) for p in report["problems"]}
    assert (3, "uscc", "NOT-A-CODE") in cells  # header is row 1: the second data row is row 3
    assert (4, "province", "火星") in cells
    html = page.content.decode()
    assert '<table class="table table-sm table-striped import-problems">' in html
    assert "未知的省份“火星”" in html

    job = page.context["job"]
    download = staff_client.get(f"/staff/jobs/{job.pk}/bad-rows.xlsx")
    book = load_workbook(io.BytesIO(body(download)))
    rows = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert rows[0][: len(HEADER)] == HEADER and len(rows[0]) == len(HEADER) + 1  # + reason
    assert [r[0] for r in rows[1:]] == ["乙公司", "丙公司"]
    assert "18" in rows[1][-1] and "火星" in rows[2][-1]
    rows[1][1] = make_uscc()  # corrected by the staff member
    rows[2][2] = "湖北省"
    fixed = Workbook()
    for row in rows:
        fixed.active.append(row)
    buffer = io.BytesIO()
    fixed.save(buffer)
    again = admin_import(
        staff_client, COMPANY_IMPORT, buffer.getvalue(), name="fixed.xlsx", fmt="1"
    )
    assert again.context["can_confirm"], again.context["report"]
    done = confirm_import(staff_client, again)
    assert done.context["job"].status == Job.Status.DONE
    assert set(MemberCompany.objects.values_list("name", flat=True)) == {"乙公司", "丙公司"}


def test_attendance_bad_rows_download_as_csv_and_upload_again(staff_client):
    from django.utils import timezone

    held = SessionFactory(starts_at=timezone.now() - timezone.timedelta(days=2))
    content = f"session,participants\n{held.pk},很多\n".encode()
    page = admin_import(staff_client, "/admin/courses/session/import/", content, name="a.csv")
    job = page.context["job"]
    download = staff_client.get(f"/staff/jobs/{job.pk}/bad-rows.csv")
    rows = list(csv.reader(io.StringIO(body(download).decode("utf-8-sig"))))
    assert rows[0][:2] == ["session", "participants"] and rows[1][:2] == [str(held.pk), "很多"]
    rows[1][1] = "300"
    fixed = io.StringIO()
    csv.writer(fixed).writerows(rows)
    again = admin_import(
        staff_client, "/admin/courses/session/import/", fixed.getvalue().encode(), name="b.csv"
    )
    confirm_import(staff_client, again)
    assert AttendanceRecord.objects.get().participants == 300


def test_a_file_that_cannot_be_read_fails_the_check_with_a_message(staff_client):
    page = admin_import(staff_client, COMPANY_IMPORT, b"\x89PNG\r\n\x1a\n\xff\xfe", name="c.csv")
    job = page.context["job"]
    assert job.status == Job.Status.FAILED
    assert "无法读取文件" in page.content.decode()


# --- through a real worker ---------------------------------------------------------------------


def _wait(job_id: int, seconds: float = 60) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_finished:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job.status}")


def test_export_and_import_jobs_run_through_a_real_worker(real_worker, client):
    staff = StaffFactory()
    client.force_login(staff)
    survey = covid_survey()
    for _n in range(3):
        file_response(survey, CompanyFactory(), COMPLETE)
    response = client.post(f"/surveys/{survey.slug}/staff/export/responses.xlsx")
    job = _wait(int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    assert job.status == Job.Status.DONE, job.error
    assert job.done == 3
    download = client.get(f"/staff/jobs/{job.pk}/download/")
    assert len(list(load_workbook(io.BytesIO(body(download))).active.iter_rows())) == 4

    rows = [HEADER, *[[f"公司{n}", make_uscc(), "42", "C", "small", "ordinary"] for n in range(5)]]
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        COMPANY_IMPORT,
        {"resource": "0", "format": "1", "import_file": SimpleUploadedFile("c.xlsx", _xlsx(rows))},
    )
    check = _wait(int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    assert check.status == Job.Status.DONE and not check.report["bad_rows"], check.report
    assert MemberCompany.objects.filter(name__startswith="公司").count() == 0
    response = client.post(f"/staff/jobs/{check.pk}/confirm/")
    imported = _wait(int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    assert imported.status == Job.Status.DONE, imported.error
    assert MemberCompany.objects.filter(name__startswith="公司").count() == 5


# --- in the browser ----------------------------------------------------------------------------


def _login(page, live_server, user):
    from django.conf import settings as django_settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = django_settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": session.session_key,
          "url": live_server.url}]
    )  # fmt: skip


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_progress_page_reaches_done_by_itself_in_the_browser(page, live_server, javascript):
    staff = StaffFactory()
    job = _job(staff, status=Job.Status.RUNNING, done=10, total=100)
    browser_page = page
    if not javascript:
        browser_page = page.context.browser.new_context(java_script_enabled=False).new_page()
    _login(browser_page, live_server, staff)
    browser_page.goto(f"{live_server.url}/staff/jobs/{job.pk}/")
    assert browser_page.locator("#job-progress").get_attribute("value") == "10"
    Job.objects.filter(pk=job.pk).update(status=Job.Status.DONE, done=100, message="全部完成")
    browser_page.wait_for_selector("text=全部完成", timeout=10_000)  # the refresh came
    assert browser_page.locator("#job-progress").get_attribute("value") == "100"


def test_import_report_fits_a_1280_px_screen(page, live_server):
    staff = StaffFactory()
    long_value = "很长的值" * 80
    problems = [
        {"row": n, "column": "company_name_in_a_very_long_header" * 3, "value": long_value,
         "reason": "原因" * 100}
        for n in range(2, 40)
    ]  # fmt: skip
    job = Job.objects.create(
        kind="core.import_check",
        owner=staff,
        title="检查 companies.xlsx",
        status=Job.Status.DONE,
        report={
            "headers": ["name"] * 16,
            "rows": 40,
            "totals": {"new": 0, "update": 0, "skip": 0, "delete": 0},
            "file_errors": [],
            "problems": problems,
            "problem_count": len(problems),
            "bad_rows": [[p["row"], [long_value] * 16, p["reason"]] for p in problems],
        },
    )
    page.set_viewport_size({"width": 1280, "height": 800})
    _login(page, live_server, staff)
    page.goto(f"{live_server.url}/staff/jobs/{job.pk}/")
    assert page.locator("table.import-problems tbody tr").count() == len(problems)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, width  # no sideways scrolling


def test_dues_reminders_sent_by_hand_run_as_a_job(staff_client):
    from tests.members.factories import FeeFactory

    assert staff_client.get("/admin/members/membershipfee/send-reminders/").status_code == 200
    FeeFactory()
    page = start_job(staff_client, "/admin/members/membershipfee/send-reminders/")
    job = page.context["job"]
    assert job.kind == "members.fee_reminders" and job.status == Job.Status.DONE, job.error
    assert "封会费提醒" in job.message


def test_old_jobs_are_deleted_with_their_files(staff_client):
    from datetime import timedelta

    from django.utils import timezone

    survey = covid_survey()
    job = start_job(staff_client, f"/surveys/{survey.slug}/staff/export/responses.csv").context[
        "job"
    ]
    path = job.result_file.path
    fresh = _job(job.owner, status=Job.Status.DONE, finished_at=timezone.now())
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=8))
    assert jobs.jobs_purge() == 1
    assert list(Job.objects.values_list("pk", flat=True)) == [fresh.pk]
    import os

    assert not os.path.exists(path)
