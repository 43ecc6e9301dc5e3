import re

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model

from cqa_portal.core.models import AuditEntry, OutboxMessage
from tests.factories import PASSWORD, StaffFactory, UserFactory

User = get_user_model()


def _signup(client, **overrides):
    data = {
        "email": "new.member@example.com",
        "name": "李华",
        "password1": "Quality-2020-strong",
        "password2": "Quality-2020-strong",
        "privacy_consent": "on",
    }
    data.update(overrides)
    return client.post("/accounts/signup/", data)


@pytest.mark.django_db
def test_signup_verify_login_logout(client, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        response = _signup(client)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    user = User.objects.get(email="new.member@example.com")
    assert user.first_name == "李华"
    assert user.privacy_consent_at is not None
    assert AuditEntry.objects.filter(action="core.account.privacy_consented").count() == 1

    # The verification mail went through the outbox and was sent once, in Chinese.
    message = OutboxMessage.objects.get(to="new.member@example.com")
    assert message.purpose == "account.email_confirmation_signup"
    assert message.status == OutboxMessage.Status.SENT
    assert len(mailoutbox) == 1
    assert "中国质量协会" in mailoutbox[0].subject
    # The link is on SITE_URL (settings), not on the Host of the signup request.
    site = re.escape(settings.SITE_URL)
    link = re.search(site + r"(/accounts/confirm-email/[^/\s]+/)", message.body).group(1)

    # Not verified yet: logging in is refused until the link is followed.
    client.logout()
    response = client.post(
        "/accounts/login/", {"login": user.email, "password": "Quality-2020-strong"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert "_auth_user_id" not in client.session

    assert client.get(link).status_code == 200
    client.post(link)
    assert EmailAddress.objects.get(email=user.email).verified

    response = client.post(
        "/accounts/login/", {"login": user.email, "password": "Quality-2020-strong"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert user.email in client.get("/").content.decode()

    client.post("/accounts/logout/")
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_signup_without_privacy_consent_is_refused_and_saves_nothing(client):
    response = _signup(client, privacy_consent="")
    assert response.status_code == 200
    assert "请阅读并同意隐私声明后继续" in response.content.decode()
    assert not User.objects.exists()
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_signup_form_links_privacy_notice(client):
    assert 'href="/privacy/"' in client.get("/accounts/signup/").content.decode()


@pytest.mark.django_db
def test_repeated_failed_logins_are_rate_limited(client):
    user = UserFactory()
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": user.email, "password": "wrong"})
        assert response.status_code == 200
        assert "电子邮件地址和/或密码不正确" in response.content.decode()
    # Even the right password is refused now: the account is locked out for a while.
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert "登录失败次数过多" in response.content.decode()


@pytest.mark.django_db
def test_password_reset_mail_goes_through_outbox(client, django_capture_on_commit_callbacks):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password/reset/", {"email": user.email})
    assert response.status_code == 302
    message = OutboxMessage.objects.get(to=user.email)
    assert message.purpose == "account.password_reset_key"
    assert message.status == OutboxMessage.Status.SENT
    assert "/accounts/password/reset/key/" in message.body


@pytest.mark.django_db
def test_password_change_page_for_logged_in_user(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": "New-Quality-2021", "password2": "New-Quality-2021"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("New-Quality-2021")


@pytest.mark.django_db
def test_admin_goes_through_allauth_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_member_user_never_sees_admin(client):
    client.force_login(UserFactory())
    assert client.get("/admin/login/").status_code == 403
    assert client.get("/admin/", follow=True).status_code == 403


@pytest.mark.django_db
def test_staff_reach_admin(client):
    client.force_login(StaffFactory())
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "中国质量协会" in response.content.decode()
