"""The programme dashboard on the admin index: fixed queries, figures equal to independent
counts, and every figure's link lists exactly the rows it counts."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from courses.models import AttendanceRecord, Registration, Session
from cqa_portal.core.dashboard import figures, programme_dashboard
from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.reference import region_group_of
from cqa_portal.core.selectors import outbox_backlog
from members.models import MemberCompany, MembershipApplication, MembershipFee, ReliefRequest
from pledges.models import CoSignature, Signature
from surveys.models import Response, SummarySnapshot
from tests.courses.factories import AttendanceFactory, RegistrationFactory, SessionFactory
from tests.factories import UserFactory
from tests.members.factories import CompanyFactory, FeeFactory, ReliefFactory
from tests.pledges.factories import CoSignatureFactory, SignatureFactory
from tests.surveys.factories import covid_survey

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Figures are looked up by their English labels."""
    with translation.override("en"):
        yield


PROVINCES = ["42", "11", "31", "44", "51"]


def build(n: int, survey=None):
    """About ``n`` of everything the dashboard counts, in every state."""
    now = timezone.now()
    year = timezone.localdate().year
    survey = survey or covid_survey(opens_at=now)  # the latest survey: the one shown
    statuses = itertools.cycle(MemberCompany.Status.values)
    fee_statuses = itertools.cycle(MembershipFee.Status.values)
    relief_statuses = itertools.cycle(ReliefRequest.Status.values)
    for i in range(4 * n):
        company = CompanyFactory(status=next(statuses), province=PROVINCES[i % len(PROVINCES)])
        fee_status = next(fee_statuses)
        FeeFactory(
            company=company,
            year=year,
            status=fee_status,
            amount_paid=Decimal("3000") if fee_status == "paid" else Decimal(i % 2 * 500),
            relief_amount=Decimal(1000 * (i % 3)),
        )
        FeeFactory(company=company, year=year - 1, status="paid", amount_paid=Decimal("3000"))
        status = next(relief_statuses)
        ReliefFactory(
            company=company,
            year=year,
            status=status,
            kind="reduction",
            requested_amount=Decimal(100 + i),
            granted_amount=Decimal(50 + i) if status in ReliefRequest.GRANTED_STATUSES else None,
            submitted_at=now - timedelta(days=i),
        )
        MembershipApplication.objects.create(
            applicant=UserFactory(), company=company, status=["pending", "approved"][i % 2]
        )
        if i % 3:
            Response.objects.create(
                survey=survey,
                company=company,
                status=["draft", "submitted"][i % 3 - 1],
                province=company.province,
                region_group=region_group_of(company.province),
                submitted_at=now,
            )
        past = SessionFactory(
            starts_at=now - timedelta(days=i + 2), ends_at=now - timedelta(days=i + 1)
        )
        SessionFactory(status=["scheduled", "cancelled"][i % 2])
        RegistrationFactory(session=past, status=["confirmed", "waiting", "cancelled"][i % 3])
        AttendanceFactory(session=past, participants=10 + i)
        SignatureFactory(
            kind=["enterprise", "individual"][i % 2],
            status=["confirmed", "pending", "withdrawn"][i % 3],
            is_hidden=i % 4 == 3,
            uscc_needs_review=i % 2 == 0,
        )
        CoSignatureFactory(status=CoSignature.Status.values[i % 3])
        OutboxMessage.objects.create(
            key=f"test:{n}:{i}",
            purpose="test",
            to="x@example.com",
            subject="s",
            body="b",
            status=OutboxMessage.Status.values[i % 4],
        )
    SummarySnapshot.objects.create(survey=survey, response_count=0, data={})
    return survey


def test_fixed_number_of_queries_whatever_the_data_size(django_assert_num_queries):
    survey = build(1)
    with CaptureQueriesContext(connection) as small:
        programme_dashboard()
    build(5, survey=survey)
    with django_assert_num_queries(len(small.captured_queries)):
        programme_dashboard()
    assert len(small.captured_queries) <= 15


def test_every_figure_equals_an_independent_count():
    build(3)
    now = timezone.now()
    year = timezone.localtime(now).year
    dash = programme_dashboard(now=now)
    companies = list(MemberCompany.objects.all())
    members = {f.label: f for f in dash["members"]}
    assert members["Active members"].count == sum(c.status == "active" for c in companies)
    assert members["Lapsed members"].count == sum(c.status == "lapsed" for c in companies)
    assert members["Applications waiting"].count == sum(
        a.status == "pending" for a in MembershipApplication.objects.all()
    )

    fees = [f for f in MembershipFee.objects.all() if f.year == year]
    got = {f.label: f for f in dash["fees"]}
    assert got["Fees billed"].count == len(fees)
    assert got["Fees billed"].amount == sum(f.amount_due for f in fees)
    for label, status in (("Still due", "due"), ("Paid", "paid"), ("Overdue", "overdue")):
        rows = [f for f in fees if f.status == status]
        assert got[label].count == len(rows)
    assert got["Paid"].amount == sum(f.amount_paid for f in fees if f.status == "paid")
    assert got["Overdue"].amount == sum(f.outstanding for f in fees if f.status == "overdue")
    relieved = [f for f in fees if f.relief_amount > 0]
    assert got["Relief granted"].count == len(relieved)
    assert got["Relief granted"].amount == sum(f.relief_amount for f in relieved)

    requests = list(ReliefRequest.objects.all())
    got = {f.label: f for f in dash["relief"]}
    waiting = [r for r in requests if r.status in ("submitted", "under_review")]
    assert got["Waiting for a decision"].count == len(waiting)
    assert got["Waiting for a decision"].amount == sum(r.requested_amount for r in waiting)
    assert got["Decided"].count == sum(r.is_decided for r in requests)
    granted = [r for r in requests if r.status in ("approved", "partly_approved")]
    assert got["Granted"].amount == sum(r.granted_amount for r in granted)

    survey = dash["survey"]
    submitted = [r for r in Response.objects.all() if r.status == "submitted"]
    active = [c for c in companies if c.status == "active"]
    total = survey["figures"][0]
    assert total.count == len(submitted)
    assert total.rate == (Decimal(len(submitted) * 100) / len(active)).quantize(Decimal("0.1"))
    for figure in survey["groups"]:
        group = next(g for g, label in region_groups() if label == figure.label)
        assert figure.count == sum(r.region_group == group for r in submitted)
        assert int(figure.note) == sum(region_group_of(c.province) == group for c in active)
    assert survey["last_snapshot_at"] == max(s.created_at for s in SummarySnapshot.objects.all())

    sessions = list(Session.objects.all())
    got = {f.label: f for f in dash["courses"]}
    assert got["Sessions held"].count == sum(
        (s.ends_at <= now or s.status == "ended") and s.status != "cancelled" for s in sessions
    )
    assert got["Sessions upcoming"].count == sum(
        s.ends_at > now and s.status not in ("ended", "cancelled") for s in sessions
    )
    registrations = list(Registration.objects.all())
    assert got["Registrations confirmed"].count == sum(
        r.status == "confirmed" for r in registrations
    )
    assert got["On waiting lists"].count == sum(r.status == "waiting" for r in registrations)
    assert got["Attendance records"].amount == sum(
        a.participants for a in AttendanceRecord.objects.all()
    )

    signatures = list(Signature.objects.all())
    got = {f.label: f for f in dash["signatures"]}
    for kind, label in (("enterprise", "Enterprise"), ("individual", "Individual quality worker")):
        assert got[f"Confirmed: {label}"].count == sum(
            s.kind == kind and s.status == "confirmed" and not s.is_hidden for s in signatures
        )
    assert got["Awaiting moderation (credit code to check)"].count == sum(
        s.status == "confirmed" and not s.is_hidden and s.uscc_needs_review for s in signatures
    )
    cosignatures = list(CoSignature.objects.all())
    assert got["Co-signatures awaiting review"].count == sum(
        c.status == "pending" for c in cosignatures
    )
    assert got["Co-signatures approved"].count == sum(c.status == "approved" for c in cosignatures)

    mails = list(OutboxMessage.objects.all())
    got = {f.label: f for f in dash["mail"]["figures"]}
    assert got["Waiting to be sent"].count == sum(m.status == "pending" for m in mails)
    assert got["Failed"].count == sum(m.status == "failed" for m in mails)


def region_groups():
    from cqa_portal.core.reference import RegionGroup

    return RegionGroup.choices


def test_each_link_lists_exactly_the_rows_it_counts(admin_client):
    build(2)
    dash = programme_dashboard()
    shown = figures(dash)
    assert len(shown) > 25
    for figure in shown:
        response = admin_client.get(figure.url)
        assert response.status_code == 200, figure.url
        assert response.context["cl"].result_count == figure.count, (figure.label, figure.url)


def test_outbox_backlog_age_of_the_oldest_pending_mail():
    now = timezone.now()
    assert outbox_backlog(now=now) == {"pending": 0, "failed": 0, "oldest_pending_age": None}
    for i, status in enumerate(["pending", "pending", "failed", "sent"]):
        OutboxMessage.objects.create(key=f"k{i}", purpose="t", to="a@example.com", status=status)
    OutboxMessage.objects.filter(key="k1").update(created_at=now - timedelta(minutes=42))
    backlog = outbox_backlog(now=now)
    assert backlog["pending"] == 2 and backlog["failed"] == 1
    assert backlog["oldest_pending_age"] == timedelta(minutes=42)


def test_the_admin_index_shows_the_dashboard_and_the_app_list(admin_client, settings):
    build(1)
    page = admin_client.get("/admin/").content.decode()
    assert "项目概览" in page  # Programme dashboard
    assert "/admin/members/reliefrequest/?queue=pending" in page
    assert 'id="dashboard-heading"' in page
    assert "/admin/members/membercompany/" in page  # the app list is still there


def test_figures_link_only_to_lists_the_staff_member_may_view(client):
    from django.contrib.auth.models import Permission

    from tests.factories import StaffFactory

    build(1)
    staff = StaffFactory(is_superuser=False)
    staff.user_permissions.add(Permission.objects.get(codename="view_reliefrequest"))
    client.force_login(staff)
    page = client.get("/admin/").content.decode()
    assert 'href="/admin/members/reliefrequest/?queue=pending"' in page
    assert 'href="/admin/members/membercompany/?' not in page
    assert "项目概览" in page


def test_not_shown_to_a_staff_member_without_the_index(client):
    client.force_login(UserFactory())
    assert client.get("/admin/").status_code in (302, 403)


@pytest.mark.django_db(transaction=True)
def test_dashboard_and_decision_pages_pass_axe(page, axe, live_server):
    """The staff pages this adds are accessible (axe-core, desktop)."""
    from django.conf import settings
    from django.test import Client

    from tests.factories import StaffFactory

    build(1)
    relief = ReliefRequest.objects.filter(status="submitted").first()
    application = MembershipApplication.objects.filter(status="pending").first()
    client = Client()
    client.force_login(StaffFactory(is_superuser=True))
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page.set_viewport_size({"width": 1280, "height": 900})
    problems = []
    for path in (
        "/admin/",
        f"/admin/members/reliefrequest/{relief.pk}/decide/",
        f"/admin/members/membershipapplication/{application.pk}/decide/",
        "/admin/members/reliefrequest/",
    ):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        problems += axe(page, context=path)
    assert problems == []
