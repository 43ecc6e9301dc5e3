"""A member company's administrator signs for the company in one click."""

import pytest

from cqa_portal.core.models import AuditEntry
from members.models import CompanyMembership, MemberCompany
from pledges.models import Signature

from .factories import MembershipFactory

pytestmark = pytest.mark.django_db


def url(initiative, suffix=""):
    return f"/initiatives/{initiative.slug}/sign/company/{suffix}"


def test_company_admin_signs_in_one_click_without_email_confirmation(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks
):
    membership = MembershipFactory()
    client.force_login(membership.user)
    letter_page = client.get("/open-letter/").content.decode()
    assert 'id="company-sign"' in letter_page
    assert membership.company.name in letter_page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(initiative), {"show_name": "on", "next": "/open-letter/"})
    assert response.status_code == 302 and response["Location"] == "/open-letter/"
    signature = Signature.objects.get()
    assert signature.status == Signature.Status.CONFIRMED
    assert signature.kind == "enterprise"
    assert signature.company == membership.company
    assert signature.organisation == membership.company.name
    assert signature.uscc == membership.company.uscc
    assert signature.province == membership.company.province
    assert signature.signed_by == membership.user and signature.show_name
    assert AuditEntry.objects.filter(action="pledges.signature.signed_for_company").exists()
    # A receipt with the withdraw link, no confirmation needed.
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [membership.user.email]
    assert "/signatures/withdraw/" in mailoutbox[0].body

    page = client.get("/open-letter/").content.decode()
    assert 'id="count-enterprises">1<' in page
    assert "撤回本单位的签名" in page

    # A second click changes nothing.
    client.post(url(initiative), {"show_name": "on"})
    assert Signature.objects.count() == 1

    # The administrator can withdraw it from the page.
    client.post(url(initiative, "withdraw/"))
    signature.refresh_from_db()
    assert signature.status == Signature.Status.WITHDRAWN and signature.company is None
    assert 'id="count-enterprises">0<' in client.get("/open-letter/").content.decode()


def test_colleague_may_not_sign_for_the_company(client, initiative):
    membership = MembershipFactory(role=CompanyMembership.Role.COLLEAGUE)
    client.force_login(membership.user)
    assert 'id="company-sign"' not in client.get("/open-letter/").content.decode()
    assert client.post(url(initiative), {"show_name": "on"}).status_code == 403
    assert not Signature.objects.exists()


def test_anonymous_visitor_is_sent_to_login(client, initiative):
    response = client.post(url(initiative), {"show_name": "on"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Signature.objects.exists()


def test_user_without_company_or_inactive_company_cannot(client, initiative):
    membership = MembershipFactory(company__status=MemberCompany.Status.LAPSED)
    client.force_login(membership.user)
    response = client.post(url(initiative), {"show_name": "on"})
    assert response.status_code == 302 and response["Location"] == "/members/"
    assert not Signature.objects.exists()


def test_get_is_not_allowed(client, initiative):
    membership = MembershipFactory()
    client.force_login(membership.user)
    assert client.get(url(initiative)).status_code == 405


def test_company_can_stay_off_the_public_list(client, initiative):
    membership = MembershipFactory()
    client.force_login(membership.user)
    client.post(url(initiative), {})
    assert Signature.objects.get().show_name is False
    wall = client.get(f"/initiatives/{initiative.slug}/signatures/").content.decode()
    assert 'id="signature-wall"' not in wall and "暂无公开签名" in wall
    assert 'id="count-total">1<' in wall
