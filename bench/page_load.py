"""Page load under gunicorn with a full-size database (issue 7).

With 10,000 signatures, 500 course sessions and 100,000 survey responses in the database,
gunicorn with its usual worker count serves, one page at a time, under concurrent load from
client processes on loopback: ``/``, ``/open-letter/``, ``/courses/``, the survey results page
and a logged-in member's dashboard. For each page: requests per second, p50/p95/p99 latency, and
throughput as a ratio to a trivial view (same server, same middleware, measured right before
the page, in the same run). The data is written (committed, so the server sees it) at the start
and deleted at the end.

Run alone: ``.venv/bin/python bench/page_load.py [seconds-per-page]`` with DATABASE_URL
(PostgreSQL) and REDIS_URL. Prints a table, then one JSON object as the last line.
"""

import json
import multiprocessing
import random
import sys
import threading
import time

import open_letter
import survey_summary
from _server import TRIVIAL, free_port, request, start_server, status_of, stop_server
from _setup import django_setup

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
CLIENT_PROCESSES = 2
CLIENT_THREADS = 4
SESSIONS = 500
RESPONSES = 100_000
PREFIX = "基准页面"
SURVEY_SLUG = "bench-page-load"
MEMBER_EMAIL = "bench-page-load@example.com"


# --- data ---------------------------------------------------------------------------------


def seed() -> dict:
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection, transaction
    from django.utils import timezone

    from courses.models import Session, Topic
    from members.models import CompanyMembership, MemberCompany, MembershipFee, MembershipLevel
    from surveys import covid, services
    from surveys.models import Question, QuestionOption, Survey

    cleanup()
    open_letter.seed()  # the current open letter with 10,000 confirmed signatures
    now = timezone.now()
    with transaction.atomic():
        topic, _ = Topic.objects.get_or_create(
            slug="bench-topic", defaults={"name": f"{PREFIX}主题", "name_en": "Bench topic"}
        )
        Session.objects.bulk_create(
            Session(
                title=f"{PREFIX}课程{i}",
                topic=topic,
                starts_at=now + timedelta(days=i - SESSIONS // 2, hours=1),
                ends_at=now + timedelta(days=i - SESSIONS // 2, hours=2),
                platform="腾讯会议",
                join_url="https://meeting.example.com/j/1",
                status=Session.Status.SCHEDULED,
                description="基准测试",
            )
            for i in range(SESSIONS)
        )
        level = MembershipLevel.objects.get(code="ordinary")
        with connection.cursor() as cursor:
            survey_summary.copy(
                cursor,
                MemberCompany._meta.db_table,
                ["name", "name_en", "uscc", "uscc_needs_review", "province",
                 "industry_section", "industry_division", "size_band", "level_id", "status",
                 "address", "postal_code", "contact_name", "contact_phone", "contact_email",
                 "created_at", "updated_at"],
                (
                    (f"{PREFIX}企业{i}", "", f"P{i:017d}", "f", "11", "C", "", "medium",
                     level.pk, "active", "", "", "", "", "", now.isoformat(), now.isoformat())
                    for i in range(RESPONSES)
                ),
            )  # fmt: skip
            cursor.execute("SELECT id FROM members_membercompany WHERE uscc LIKE 'P%%' ORDER BY id")
            company_ids = [row[0] for row in cursor.fetchall()]
            survey = covid.install(
                Survey, Question, QuestionOption, opens_at=now - timedelta(days=1),
                closes_at=now + timedelta(days=30), slug=SURVEY_SLUG,
            )  # fmt: skip
            survey_summary.load(cursor, survey, company_ids, RESPONSES, 0, random.Random(3))
            cursor.execute("ANALYZE")
        company = MemberCompany.objects.get(pk=company_ids[0])
        user = get_user_model().objects.create_user(
            username="bench-page-load",
            email=MEMBER_EMAIL,
            password=None,
            # Accepted the current privacy notice (else every page asks for it first).
            privacy_consent_version=settings.PRIVACY_NOTICE_VERSION,
        )
        CompanyMembership.objects.create(user=user, company=company, role="admin")
        MembershipFee.objects.create(
            company=company, year=2020, amount_due=level.annual_fee, due_date=now.date()
        )
    services.survey_set_published(survey=survey, published=True)
    services.summary_snapshot_make(survey_id=survey.pk)
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return {"session_cookie": session.session_key, "survey": survey.slug}


def cleanup() -> None:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from courses.models import Session
    from members.models import MemberCompany
    from surveys.models import Answer, Response, SummarySnapshot, Survey

    open_letter.cleanup()
    with transaction.atomic():
        Session.objects.filter(title__startswith=PREFIX).delete()
        surveys = Survey.objects.filter(slug=SURVEY_SLUG)
        SummarySnapshot.objects.filter(survey__in=surveys).delete()
        Answer.objects.filter(response__survey__in=surveys).delete()
        Response.objects.filter(survey__in=surveys).delete()
        for survey in surveys:
            survey.questions.update(condition_question=None)
            survey.questions.all().delete()
        surveys.delete()
        get_user_model().objects.filter(email=MEMBER_EMAIL).delete()
        MemberCompany.objects.filter(uscc__startswith="P", name__startswith=PREFIX).delete()


# --- load ---------------------------------------------------------------------------------


def _client(args) -> tuple[list[float], dict[int, int]]:
    port, path, seconds, headers = args
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop():
        while time.monotonic() < deadline:
            start = time.perf_counter()
            status = status_of(request(port, path, headers=headers))
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=loop) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses


def measure(pool, port: int, path: str, headers: dict | None = None) -> dict:
    start = time.monotonic()
    results = pool.map(_client, [(port, path, SECONDS, headers or {})] * CLIENT_PROCESSES)
    wall = time.monotonic() - start
    latencies = sorted(x for lat, _s in results for x in lat)
    statuses: dict[int, int] = {}
    for _lat, counts in results:
        for status, count in counts.items():
            statuses[status] = statuses.get(status, 0) + count
    ok = statuses.get(200, 0)

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1)

    return {
        "rps": round(ok / wall, 1),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "requests": len(latencies),
        "non_200": sum(n for s, n in statuses.items() if s != 200),
    }


def main() -> dict:
    django_setup()
    from django.conf import settings
    from django.db import connection

    data = seed()
    cookie = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={data['session_cookie']}"}
    pages = [
        ("home", "/", None),
        ("open_letter", "/open-letter/", None),
        ("courses", "/courses/", None),
        ("survey_results", f"/surveys/{data['survey']}/results/", None),
        ("member_dashboard", "/members/", cookie),
    ]
    port = free_port()
    server = start_server(port)
    figures: dict = {"benchmark": "page_load", "database": connection.vendor, "pages": {}}
    try:
        with multiprocessing.Pool(CLIENT_PROCESSES) as pool:
            for _name, path, headers in pages:  # warm every worker's caches
                for _ in range(20):
                    request(port, path, headers=headers)
            for name, path, headers in pages:
                trivial = measure(pool, port, TRIVIAL)
                page = measure(pool, port, path, headers)
                page["ratio_to_trivial"] = round(page["rps"] / trivial["rps"], 3)
                page["trivial_rps"] = trivial["rps"]
                figures["pages"][name] = page
    finally:
        stop_server(server)
        cleanup()
    # No issue sets a throughput limit for these pages: the figures are reported; the check is
    # that every answer was a 200.
    figures["errors"] = sum(p["non_200"] for p in figures["pages"].values())
    figures["within_limit"] = figures["errors"] == 0
    print(f"{'page':<18}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'vs trivial':>12}")
    for name, page in figures["pages"].items():
        print(
            f"{name:<18}{page['rps']:>9}{page['p50_ms']:>9}{page['p95_ms']:>9}"
            f"{page['p99_ms']:>9}{page['ratio_to_trivial']:>12}"
        )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
