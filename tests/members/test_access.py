"""Every member-area URL: anonymous users go to login, another company's users get 404,
users without a company are sent to the member area's start page."""

import pytest
from django.utils import timezone

from tests.factories import UserFactory

from .factories import MembershipFactory, ReliefFactory


@pytest.fixture
def relief(admin_member):
    return ReliefFactory(company=admin_member.company, status="draft")


OBJECT_URLS = [
    ("get", "/members/relief/{relief}/"),
    ("get", "/members/relief/{relief}/edit/"),
    ("post", "/members/relief/{relief}/submit/"),
    ("post", "/members/relief/{relief}/withdraw/"),
    ("get", "/members/relief/{relief}/documents/999/"),
    ("post", "/members/users/{membership}/remove/"),
]
PAGE_URLS = [
    ("get", "/members/"),
    ("get", "/members/apply/"),
    ("get", "/members/profile/"),
    ("get", "/members/users/"),
    ("get", "/members/relief/new/"),
]


def _url(template, relief, admin_member):
    return template.format(relief=relief.pk, membership=admin_member.pk)


@pytest.mark.parametrize("method, template", OBJECT_URLS + PAGE_URLS)
def test_anonymous_is_sent_to_login(client, relief, admin_member, method, template):
    url = _url(template, relief, admin_member)
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("method, template", OBJECT_URLS)
def test_other_company_gets_404(client, relief, admin_member, other_member, method, template):
    client.force_login(other_member.user)
    response = getattr(client, method)(_url(template, relief, admin_member))
    assert response.status_code == 404
    relief.refresh_from_db()
    assert relief.status == "draft"


@pytest.mark.parametrize("method, template", OBJECT_URLS)
def test_user_without_company_never_reaches_objects(client, relief, admin_member, method, template):
    client.force_login(UserFactory())
    response = getattr(client, method)(_url(template, relief, admin_member))
    assert response.status_code in (302, 404)
    if response.status_code == 302:
        assert response["Location"] == "/members/"


def test_other_company_invitation_cannot_be_revoked(client, admin_member, other_member):
    from members.models import Invitation

    invitation = Invitation.objects.create(company=admin_member.company, email="x@example.com")
    client.force_login(other_member.user)
    assert client.post(f"/members/invitations/{invitation.pk}/revoke/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_member_dashboard_shows_only_own_company(client, admin_member, other_member):
    client.force_login(admin_member.user)
    html = client.get("/members/").content.decode()
    assert admin_member.company.name in html
    assert other_member.company.name not in html
    assert other_member.user.email not in html


def test_colleague_reads_but_cannot_file(client, admin_member, relief):
    colleague = MembershipFactory(company=admin_member.company, role="colleague")
    client.force_login(colleague.user)
    assert client.get(f"/members/relief/{relief.pk}/").status_code == 200
    assert client.get("/members/relief/new/").status_code == 403


def test_dashboard_lists_open_surveys_with_own_status(client, admin_member):
    from surveys.models import Survey

    survey = Survey.objects.filter(status="open").first()
    if survey is None:
        pytest.skip("no open survey shipped")
    client.force_login(admin_member.user)
    html = client.get("/members/").content.decode()
    assert f'href="/surveys/{survey.slug}/"' in html
    assert "尚未填报" in html


def test_dashboard_in_english_shows_english_survey_and_course_titles(client, admin_member):
    from courses.models import Registration
    from surveys.models import Survey
    from tests.courses.factories import RegistrationFactory, SessionFactory

    survey = Survey.objects.filter(status="open").first()
    if survey is None:
        pytest.skip("no open survey shipped")
    Survey.objects.filter(pk=survey.pk).update(title_en="Epidemic impact survey")
    session = SessionFactory(title="现场管理入门", title_en="On-site management basics")
    RegistrationFactory(
        session=session,
        user=admin_member.user,
        email=admin_member.user.email,
        status=Registration.Status.CONFIRMED,
    )
    client.force_login(admin_member.user)
    client.cookies["django_language"] = "en"
    html = client.get("/members/").content.decode()
    assert "Epidemic impact survey" in html
    assert "On-site management basics" in html
    assert "现场管理入门" not in html
    local = session.starts_at.astimezone(timezone.get_current_timezone())
    assert local.strftime("%Y-%m-%d %H:%M") in html
