"""Staff queues list what waits first; decision pages show the whole case; the relief queue
shows each company's reported impact and resumption, sortable and filterable."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from members import services
from members.models import FeePayment, MembershipApplication, ReliefRequest
from pledges.models import CoSignature
from tests.factories import UserFactory
from tests.members.factories import CompanyFactory, FeeFactory, ReliefFactory
from tests.pledges.factories import CoSignatureFactory, SignatureFactory
from tests.surveys.factories import COMPLETE, covid_survey, file_response

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _rows(response):
    return list(response.context["cl"].result_list)


def test_relief_queue_lists_waiting_first_oldest_first(admin_client):
    now = timezone.now()
    decided = itertools.cycle(["approved", "partly_approved", "rejected", "withdrawn", "draft"])
    for i in range(9):  # newer than the waiting ones, as in the issue
        ReliefFactory(status=next(decided), year=2010 + i, submitted_at=now - timedelta(hours=i))
    waiting = [
        ReliefFactory(status=status, submitted_at=now - timedelta(days=10 + i))
        for i, status in enumerate(["submitted", "under_review", "submitted", "submitted"])
    ]
    rows = _rows(admin_client.get("/admin/members/reliefrequest/"))
    assert [r.pk for r in rows[:4]] == [r.pk for r in reversed(waiting)]  # oldest first
    assert all(r.status not in ReliefRequest.PENDING_STATUSES for r in rows[4:])
    # A column the user sorts by still wins.
    rows = _rows(admin_client.get("/admin/members/reliefrequest/?o=2"))
    assert [r.year for r in rows] == sorted(r.year for r in rows)


def test_application_cosignature_and_signature_queues_list_waiting_first(admin_client):
    for status in ["approved", "pending", "rejected", "pending"]:
        MembershipApplication.objects.create(
            applicant=UserFactory(), company=CompanyFactory(), status=status
        )
        CoSignatureFactory(status=status if status != "pending" else CoSignature.Status.PENDING)
        SignatureFactory(kind="enterprise", uscc_needs_review=status == "pending")
    for url, waits in (
        ("/admin/members/membershipapplication/", lambda r: r.status == "pending"),
        ("/admin/pledges/cosignature/", lambda r: r.status == "pending"),
        ("/admin/pledges/signature/", lambda r: r.uscc_needs_review and not r.is_hidden),
    ):
        rows = _rows(admin_client.get(url))
        assert [waits(r) for r in rows] == [True, True, False, False], url


def _case():
    """A relief request with a fee partly paid, an earlier request, a document and survey
    answers."""
    company = CompanyFactory(name="武汉测试精工有限公司", contact_name="李雷")
    fee = FeeFactory(company=company, year=2020, amount_due=Decimal("3000.00"))
    FeePayment.objects.create(fee=fee, amount=Decimal("500.00"), paid_on="2020-01-15")
    fee.amount_paid = Decimal("500.00")
    fee.save()
    FeeFactory(company=company, year=2019, status="paid", amount_paid=Decimal("3000"))
    ReliefFactory(company=company, year=2019, status="rejected")
    relief = ReliefFactory(
        company=company,
        kind="reduction",
        requested_amount=Decimal("1200.00"),
        explanation="停工两个月，订单减少",
        submitted_at=timezone.now(),
    )
    services.relief_document_add(
        relief=relief,
        upload=SimpleUploadedFile("停工证明.pdf", PDF, content_type="application/pdf"),
        actor=None,
    )
    answers = {**COMPLETE, "impact_degree": "severe", "resumption": "not_resumed"}
    answers.pop("full_resumption_date")
    file_response(covid_survey(), company, answers)
    return relief


def test_relief_decision_page_shows_the_whole_case(admin_client):
    relief = _case()
    page = admin_client.get(f"/admin/members/reliefrequest/{relief.pk}/decide/").content.decode()
    for text in (
        "武汉测试精工有限公司",
        relief.company.uscc,
        "1200.00",  # amount asked
        "2500.00",  # still due: 3000 - 500
        "停工两个月，订单减少",
        "生产",  # a reason
        "停工证明.pdf",
        "2020-01-15",  # a payment in the fee history
        "严重影响",  # impact answer
        "尚未复工",  # resumption answer
        "人员到岗",  # impact areas
    ):
        assert text in page, text
    document = relief.documents.get()
    link = f"/members/relief/{relief.pk}/documents/{document.pk}/"
    assert link in page
    assert admin_client.get(link)["Content-Disposition"].startswith("attachment")
    earlier = ReliefRequest.objects.get(year=2019)
    assert f"/admin/members/reliefrequest/{earlier.pk}/change/" in page


def test_queue_decide_link_goes_to_the_case(admin_client):
    relief = _case()
    page = admin_client.get("/admin/members/reliefrequest/").content.decode()
    assert f"/admin/members/reliefrequest/{relief.pk}/decide/" in page


def test_application_decision_page_shows_every_field_check_and_contact(admin_client):
    company = CompanyFactory(
        status="applicant",
        name_en="Wuhan Test Precision",
        industry_division="汽车制造业",
        address="武汉市洪山区",
        postal_code="430000",
        contact_name="李雷",
        contact_phone="027-12345678",
        contact_email="lilei@example.com",
        uscc_needs_review=True,
    )
    company.uscc = company.uscc[:-1] + ("0" if company.uscc[-1] != "0" else "1")
    company.save()
    applicant = UserFactory(email="applicant@example.com")
    application = MembershipApplication.objects.create(
        applicant=applicant, company=company, message="希望加入协会"
    )
    url = f"/admin/members/membershipapplication/{application.pk}/decide/"
    page = admin_client.get(url).content.decode()
    for text in (
        company.name, "Wuhan Test Precision", company.uscc, "湖北", "汽车制造业", "武汉市洪山区",
        "430000", "李雷", "027-12345678", "lilei@example.com", "希望加入协会",
        "applicant@example.com", "校验码不一致", "待审核",
    ):  # fmt: skip
        assert text in page, text
    assert "待发送" not in page


def test_relief_queue_shows_impact_and_resumption_sortable_and_filterable(
    admin_client, django_assert_num_queries
):
    survey = covid_survey()
    degrees = itertools.cycle(["none", "slight", "moderate", "severe"])
    for i in range(4):
        relief = ReliefFactory(submitted_at=timezone.now() - timedelta(days=i))
        answers = {**COMPLETE, "impact_degree": next(degrees)}
        if answers["impact_degree"] == "none":
            answers.pop("impact_areas")
        file_response(survey, relief.company, answers)
    ReliefFactory()  # a company that did not answer
    response = admin_client.get("/admin/members/reliefrequest/")
    page = response.content.decode()
    assert "严重影响" in page and "部分复工" in page
    index = response.context["cl"].list_display.index("impact")
    rows = _rows(admin_client.get(f"/admin/members/reliefrequest/?o=-{index}"))
    assert [r.survey_impact for r in rows[:4]] == ["severe", "moderate", "slight", "none"]
    rows = _rows(admin_client.get("/admin/members/reliefrequest/?impact=severe"))
    assert [r.survey_impact for r in rows] == ["severe"]
    rows = _rows(admin_client.get("/admin/members/reliefrequest/?impact=none"))
    assert [r.survey_impact for r in rows] == ["none"]
    rows = _rows(admin_client.get("/admin/members/reliefrequest/?impact=unanswered"))
    assert len(rows) == 1 and rows[0].survey_impact is None
    rows = _rows(admin_client.get("/admin/members/reliefrequest/?resumption=partly"))
    assert len(rows) == 4


@pytest.mark.usefixtures("uncached_pages")  # what rendering costs
def test_relief_queue_query_count_does_not_grow(admin_client, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    survey = covid_survey()

    def add(n):
        for _ in range(n):
            relief = ReliefFactory()
            file_response(survey, relief.company, COMPLETE)

    add(2)
    with CaptureQueriesContext(connection) as small:
        admin_client.get("/admin/members/reliefrequest/")
    add(8)
    with django_assert_num_queries(len(small.captured_queries)):
        admin_client.get("/admin/members/reliefrequest/")
