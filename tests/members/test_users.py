import re
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from members import services
from members.models import CompanyMembership, Invitation
from tests.factories import UserFactory

from .factories import MembershipFactory


def _invite(client, email, capture):
    with capture(execute=True):
        return client.post("/members/users/", {"email": email})


def test_admin_invites_colleague_who_signs_up_and_accepts(
    client, admin_member, django_capture_on_commit_callbacks, mailoutbox
):
    client.force_login(admin_member.user)
    response = _invite(client, "colleague@example.com", django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert Invitation.objects.get().email == "colleague@example.com"
    assert len(mailoutbox) == 1
    link = re.search(r"http://127\.0\.0\.1:8000(/members/invitations/[^/\s]+/)", mailoutbox[0].body)
    path = link.group(1)

    # Anonymous: the link leads through signup (or login) and back.
    client.logout()
    html = client.get(path).content.decode()
    assert "/accounts/signup/?next=" in html

    colleague = UserFactory(email="colleague@example.com")
    client.force_login(colleague)
    # The member area also points to the open invitation, by the very link that was mailed
    # (an invitation's link counts from its creation, so it is the same whenever it is made).
    assert path in client.get("/members/").content.decode()
    response = client.post(path)
    assert response.status_code == 302
    membership = CompanyMembership.objects.get(user=colleague)
    assert membership.company == admin_member.company
    assert membership.role == CompanyMembership.Role.COLLEAGUE
    # A used link is no longer valid, and says so.
    used = client.get(path)
    assert used.status_code == 410
    assert "此邀请已被接受" in used.content.decode()


def test_invitation_link_is_the_same_in_the_mail_and_on_the_member_page(
    client, admin_member, django_capture_on_commit_callbacks, mailoutbox
):
    """The link counts from the invitation, not from the page view: no second boundary can
    make the two differ (the old flaky test above)."""
    client.force_login(admin_member.user)
    with mock.patch("django.utils.timezone.now", return_value=timezone.now()):
        _invite(client, "colleague@example.com", django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    path = re.search(r"(/members/invitations/[^/\s]+/)", mailoutbox[0].body).group(1)
    later = timezone.now() + timedelta(hours=3)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert path == f"/members/invitations/{services.invitation_link(invitation)}/"
    client.force_login(UserFactory(email="colleague@example.com"))
    assert path in client.get("/members/").content.decode()


def test_withdrawn_invitation_link_says_so(client, admin_member):
    invitation = Invitation.objects.create(company=admin_member.company, email="x@example.com")
    path = f"/members/invitations/{services.invitation_link(invitation)}/"
    assert client.get(path).status_code == 200
    services.invitation_revoke(invitation=invitation, actor=admin_member.user)
    response = client.get(path)
    assert response.status_code == 410
    html = response.content.decode()
    assert "此邀请已撤回" in html and "请联系贵单位管理员重新发送邀请" in html


def test_expired_invitation_link_says_so_and_inviting_again_sends_a_new_one(
    client, admin_member, django_capture_on_commit_callbacks, mailoutbox, settings
):
    invitation = Invitation.objects.create(company=admin_member.company, email="x@example.com")
    Invitation.objects.filter(pk=invitation.pk).update(
        created_at=timezone.now() - timedelta(days=15)
    )
    invitation.refresh_from_db()
    path = f"/members/invitations/{services.invitation_link(invitation)}/"
    response = client.get(path)
    assert response.status_code == 410
    assert "此链接已过期" in response.content.decode()
    settings.MEMBERS_INVITATION_MAX_AGE_DAYS = 30  # the expiry is read from the settings
    assert client.get(path).status_code == 200
    settings.MEMBERS_INVITATION_MAX_AGE_DAYS = 14

    client.force_login(admin_member.user)
    _invite(client, "x@example.com", django_capture_on_commit_callbacks)
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    fresh = Invitation.objects.get(revoked_at__isnull=True)
    new_path = re.search(r"(/members/invitations/[^/\s]+/)", mailoutbox[0].body).group(1)
    assert new_path == f"/members/invitations/{services.invitation_link(fresh)}/"
    client.logout()
    assert client.get(new_path).status_code == 200
    assert client.get(path).status_code == 410


def test_invitation_accepted_only_by_the_invited_address(
    client, admin_member, django_capture_on_commit_callbacks, mailoutbox
):
    client.force_login(admin_member.user)
    _invite(client, "right@example.com", django_capture_on_commit_callbacks)
    path = re.search(r"(/members/invitations/[^/\s]+/)", mailoutbox[0].body).group(1)
    client.force_login(UserFactory(email="wrong@example.com"))
    response = client.post(path, follow=True)
    assert "此邀请发送至 right@example.com" in response.content.decode()
    assert not CompanyMembership.objects.filter(user__email="wrong@example.com").exists()


def test_forged_invitation_link_is_refused(client, db):
    response = client.get("/members/invitations/1:forged:token/")
    assert response.status_code == 404
    assert "此链接无效" in response.content.decode()


def test_cannot_invite_a_user_of_another_company(client, admin_member, other_member):
    client.force_login(admin_member.user)
    response = client.post("/members/users/", {"email": other_member.user.email})
    assert "已属于另一家会员单位" in response.content.decode()
    assert not Invitation.objects.exists()


def test_admin_removes_colleague_but_not_the_last_admin(client, admin_member):
    colleague = MembershipFactory(company=admin_member.company, role="colleague")
    client.force_login(admin_member.user)
    client.post(f"/members/users/{colleague.pk}/remove/")
    assert not CompanyMembership.objects.filter(pk=colleague.pk).exists()
    response = client.post(f"/members/users/{admin_member.pk}/remove/", follow=True)
    assert "至少需要一名管理员" in response.content.decode()
    assert CompanyMembership.objects.filter(pk=admin_member.pk).exists()


def test_colleague_cannot_manage_users(client, admin_member):
    colleague = MembershipFactory(company=admin_member.company, role="colleague")
    client.force_login(colleague.user)
    assert client.get("/members/users/").status_code == 403
    assert client.post(f"/members/users/{admin_member.pk}/remove/").status_code == 403


def test_staff_link_and_unlink_users_in_admin(client, staff, admin_member):
    user = UserFactory()
    client.force_login(staff)
    company = admin_member.company
    url = f"/admin/members/membercompany/{company.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    data.update(
        {
            "level": company.level_id,
            "member_since": "2015-01-01",
            "members-TOTAL_FORMS": "2",
            "members-INITIAL_FORMS": "1",
            "members-0-id": admin_member.pk,
            "members-0-company": company.pk,
            "members-0-user": admin_member.user.pk,
            "members-0-role": "admin",
            "members-1-company": company.pk,
            "members-1-user": user.pk,
            "members-1-role": "colleague",
            "core-auditentry-content_type-object_id-TOTAL_FORMS": "0",
            "core-auditentry-content_type-object_id-INITIAL_FORMS": "0",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert CompanyMembership.objects.get(user=user).company == company
    membership = CompanyMembership.objects.get(user=user)
    data.update(
        {
            "members-INITIAL_FORMS": "2",
            "members-1-id": membership.pk,
            "members-1-DELETE": "on",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302
    assert not CompanyMembership.objects.filter(user=user).exists()
    from cqa_portal.core.models import AuditEntry

    assert AuditEntry.objects.filter(action="members.user.unlinked").count() == 1


@pytest.mark.parametrize("role", ["admin", "colleague"])
def test_profile_edit_only_by_admin_and_never_code_or_status(client, admin_member, role):
    membership = (
        admin_member
        if role == "admin"
        else MembershipFactory(company=admin_member.company, role="colleague")
    )
    client.force_login(membership.user)
    company = admin_member.company
    data = {
        "name": "新名称有限公司",
        "province": "42",
        "industry_section": "C",
        "size_band": "large",
        "uscc": "91110000600037341L",
        "status": "lapsed",
    }
    response = client.post("/members/profile/", data)
    company.refresh_from_db()
    if role == "colleague":
        assert response.status_code == 403
        assert company.name != "新名称有限公司"
    else:
        assert response.status_code == 302
        assert company.name == "新名称有限公司"
        assert company.uscc != "91110000600037341L"
        assert company.status == "active"


@pytest.mark.parametrize(
    "email",
    [
        "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".cn",  # 307 characters, a valid address
        "a" * 60 + "@" + ".".join(["İ" * 60] * 3) + ".cn",  # 246 characters, 426 lower-cased
    ],
)
def test_invitation_to_an_address_longer_than_its_column_is_refused(
    client, admin_member, django_capture_on_commit_callbacks, mailoutbox, email
):
    client.force_login(admin_member.user)
    response = _invite(client, email, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert "254" in response.content.decode()
    assert not Invitation.objects.exists() and not mailoutbox


def test_every_email_field_of_the_portal_forms_has_the_length_check():
    from cqa_portal.core.validators import validate_email_length
    from members.forms import InvitationForm
    from pledges.forms import CoSignForm, EnterpriseSignatureForm

    for form_class, name in [
        (InvitationForm, "email"),
        (EnterpriseSignatureForm, "email"),
        (CoSignForm, "contact_email"),
    ]:
        form = form_class(data={name: "x"})
        form.full_clean()
        assert validate_email_length in form.fields[name].validators, form_class


def test_invitations_per_company_and_day_are_limited(
    client, admin_member, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.MEMBERS_INVITATIONS_PER_DAY = 3
    client.force_login(admin_member.user)
    for n in range(3):
        assert (
            _invite(client, f"c{n}@example.com", django_capture_on_commit_callbacks).status_code
            == 302
        )
    refused = _invite(client, "c3@example.com", django_capture_on_commit_callbacks)
    assert refused.status_code == 200
    assert "过去 24 小时内已发送 3 份邀请" in refused.content.decode()
    assert Invitation.objects.count() == 3 and len(mailoutbox) == 3  # nothing written or sent
    # Inviting one of them again re-sends the same invitation: not a new one.
    assert _invite(client, "c1@example.com", django_capture_on_commit_callbacks).status_code == 302
    # Another company has its own allowance; a day later this one has its own again.
    other = MembershipFactory(role="admin")
    services.invitation_create(company=other.company, email="o@example.com", actor=other.user)
    later = timezone.now() + timedelta(days=1, minutes=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        services.invitation_create(
            company=admin_member.company, email="c3@example.com", actor=admin_member.user
        )
    assert Invitation.objects.filter(company=admin_member.company).count() == 4
