import pytest

from cqa_portal.core.models import AuditEntry, OutboxMessage
from members.models import CompanyMembership, MemberCompany, MembershipApplication
from tests.factories import UserFactory

from .factories import CompanyFactory, level, make_uscc


def _application_data(**overrides):
    data = {
        "name": "湖北测试精工有限公司",
        "uscc": make_uscc("42"),
        "province": "42",
        "industry_section": "C",
        "industry_division": "汽车制造业",
        "size_band": "medium",
        "level": 2,
        "address": "武汉市洪山区",
        "postal_code": "430000",
        "contact_name": "李雷",
        "contact_phone": "027-12345678",
        "contact_email": "lilei@example.com",
        "privacy_consent": "on",
    }
    data.update(overrides)
    return data


@pytest.fixture
def applicant(client, db):
    user = UserFactory()
    client.force_login(user)
    return user


def _level_pk():

    return level("ordinary").pk


def test_user_without_company_is_offered_to_apply(client, applicant):
    html = client.get("/members/").content.decode()
    assert "您的账户尚未关联会员单位" in html
    assert 'href="/members/apply/"' in html


def test_application_creates_applicant_company_and_pending_application(client, applicant):
    response = client.post("/members/apply/", _application_data(level=_level_pk()))
    assert response.status_code == 302
    company = MemberCompany.objects.get()
    assert company.status == MemberCompany.Status.APPLICANT
    application = MembershipApplication.objects.get()
    assert application.applicant == applicant
    assert application.status == MembershipApplication.Status.PENDING
    assert "正在审核" in client.get("/members/").content.decode()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("uscc", "12345", "18 位"),
        ("uscc", "91420100MA4KDEMOOX", "不是有效的统一社会信用代码"),
        ("province", "99", "选择一个有效的选项"),
        ("postal_code", "43A000", "邮政编码为 6 位数字"),
        ("privacy_consent", "", "请阅读并同意隐私声明后继续"),
    ],
)
def test_bad_application_is_refused_in_chinese_and_saves_nothing(
    client, applicant, field, value, message
):
    response = client.post(
        "/members/apply/", _application_data(level=_level_pk(), **{field: value})
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not MemberCompany.objects.exists()
    assert not MembershipApplication.objects.exists()


def test_check_character_failure_is_accepted_and_flagged(client, applicant):
    client.post("/members/apply/", _application_data(level=_level_pk(), uscc="91350100M0001TGQXM"))
    assert MemberCompany.objects.get().uscc_needs_review is True


def test_code_of_an_existing_member_is_refused(client, applicant):
    existing = CompanyFactory()
    response = client.post(
        "/members/apply/", _application_data(level=_level_pk(), uscc=existing.uscc)
    )
    assert "已登记" in response.content.decode()
    assert MemberCompany.objects.count() == 1


def _decide(client, application, approve, note=""):
    return client.post(
        f"/admin/members/membershipapplication/{application.pk}/decide/",
        {"approve": "1" if approve else "0", "note": note},
    )


def test_staff_approval_activates_company_and_makes_applicant_admin(
    client, applicant, staff, django_capture_on_commit_callbacks, mailoutbox
):
    client.post("/members/apply/", _application_data(level=_level_pk()))
    application = MembershipApplication.objects.get()
    client.force_login(staff)
    assert "审核" in client.get("/admin/members/membershipapplication/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = _decide(client, application, approve=True)
    assert response.status_code == 302
    company = MemberCompany.objects.get()
    assert company.status == MemberCompany.Status.ACTIVE
    assert company.member_since is not None
    membership = CompanyMembership.objects.get(user=applicant)
    assert membership.role == CompanyMembership.Role.ADMIN
    assert [m.to[0] for m in mailoutbox] == [applicant.email]
    assert "已获批准" in mailoutbox[0].subject
    assert AuditEntry.objects.filter(action="members.application.approved").exists()


def test_rejection_needs_a_note_and_emails_the_applicant(
    client, applicant, staff, django_capture_on_commit_callbacks, mailoutbox
):
    client.post("/members/apply/", _application_data(level=_level_pk()))
    application = MembershipApplication.objects.get()
    client.force_login(staff)
    response = _decide(client, application, approve=False, note="")
    assert response.status_code == 200
    assert "请说明不予批准的理由" in response.content.decode()
    application.refresh_from_db()
    assert application.status == MembershipApplication.Status.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        _decide(client, application, approve=False, note="资料不全")
    application.refresh_from_db()
    assert application.status == MembershipApplication.Status.REJECTED
    assert MemberCompany.objects.get().status == MemberCompany.Status.APPLICANT
    assert len(mailoutbox) == 1
    assert "资料不全" in mailoutbox[0].body
    assert OutboxMessage.objects.get().purpose == "members.application_decision"

    # The applicant may correct the details and apply again with the same code.
    client.force_login(applicant)
    client.post(
        "/members/apply/",
        _application_data(
            level=_level_pk(), uscc=MemberCompany.objects.get().uscc, name="改正后的名称"
        ),
    )
    assert MemberCompany.objects.get().name == "改正后的名称"
    assert MembershipApplication.objects.filter(status="pending").count() == 1
