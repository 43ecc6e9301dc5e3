"""Absolute links come from SITE_URL alone (cqa_portal.core.site), in every mail the portal sends
in its common flows and in calendars; account mails name the portal."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from cqa_portal.core import site
from cqa_portal.core.models import OutboxMessage
from members.models import CompanyMembership
from tests.courses.factories import RegistrationFactory, SessionFactory
from tests.factories import UserFactory
from tests.members.factories import MembershipFactory
from tests.pledges.factories import InitiativeFactory
from tests.surveys.factories import CompanyFactory, covid_survey, member_user

SITE = "https://portal.example.cn"
URL = re.compile(r"https?://[^\s\"'<>\\]+")  # calendars escape line breaks as \n

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _public_address(settings):
    settings.SITE_URL = SITE


def _links(text: str) -> list[str]:
    return URL.findall(text or "")


def assert_links_on_site(messages, *, external=()):
    """Every link of every message is on SITE_URL (or one of the named outside links), and
    nothing names the address the test requests came from."""
    assert messages
    for message in messages:
        text = f"{message.subject}\n{message.body}\n{message.html_body}"
        links = [link for link in _links(text) if link not in external]
        assert links, f"{message.purpose} has no link:\n{message.body}"
        for link in links:
            assert link.startswith(SITE + "/"), f"{message.purpose}: {link}"
        for local in ("testserver", "127.0.0.1", "localhost"):
            assert local not in text, f"{message.purpose} names {local}:\n{message.body}"


def _signup(client, email="new.member@example.com"):
    return client.post(
        "/accounts/signup/",
        {
            "email": email,
            "name": "李华",
            "password1": "Quality-2020-strong",
            "password2": "Quality-2020-strong",
            "privacy_consent": "on",
        },
    )


# --- the module -------------------------------------------------------------------------------


def test_absolute_url_domain_and_name_come_from_settings(settings):
    settings.SITE_URL = "https://portal.example.cn/"
    assert site.absolute_url("/open-letter/") == "https://portal.example.cn/open-letter/"
    assert site.absolute_url("courses/") == "https://portal.example.cn/courses/"
    assert site.domain() == "portal.example.cn"
    assert site.current_site().name == "中国质量协会"


@pytest.mark.parametrize(
    "value",
    ["", "portal.example.cn", "ftp://portal.example.cn", "https://", "https://x.cn/?a=1"],
)
def test_a_site_url_that_is_not_an_http_address_is_refused(value):
    with pytest.raises(ImproperlyConfigured):
        site.validate_site_url(value)


def test_a_good_site_url_is_accepted_without_its_trailing_slash():
    assert site.validate_site_url("https://portal.example.cn/") == SITE
    assert site.validate_site_url("http://10.0.0.5:8000") == "http://10.0.0.5:8000"


# --- account mails ----------------------------------------------------------------------------


def test_signup_verification_mail_names_the_portal_and_links_to_site_url(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _signup(client)
    message = OutboxMessage.objects.get(purpose="account.email_confirmation_signup")
    assert_links_on_site([message])
    assert "中国质量协会" in message.body
    assert "portal.example.cn" in message.body
    assert "来自的" not in message.body and "在  上" not in message.body
    # The link works.
    path = _links(message.body)[0].removeprefix(SITE)
    assert client.get(path).status_code == 200


def test_account_mails_in_english_name_the_portal_in_english(
    client, django_capture_on_commit_callbacks
):
    client.cookies["django_language"] = "en"
    with django_capture_on_commit_callbacks(execute=True):
        _signup(client)
    message = OutboxMessage.objects.get(purpose="account.email_confirmation_signup")
    assert "China Association for Quality" in message.body
    assert "Hello from China Association for Quality!" in message.body
    assert_links_on_site([message])


def test_password_reset_and_unknown_account_mails_link_to_site_url(
    client, django_capture_on_commit_callbacks
):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password/reset/", {"email": user.email})
        client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    reset = OutboxMessage.objects.get(purpose="account.password_reset_key")
    unknown = OutboxMessage.objects.get(purpose="account.unknown_account")
    assert_links_on_site([reset, unknown])
    assert "中国质量协会" in reset.body
    assert f"{SITE}/accounts/password/reset/key/" in reset.body
    path = _links(reset.body)[0].removeprefix(SITE)
    assert client.get(path, follow=True).status_code == 200


def test_signing_up_again_sends_an_account_exists_mail_linking_to_site_url(
    client, django_capture_on_commit_callbacks
):
    UserFactory(email="known@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        _signup(client, email="known@example.com")
    message = OutboxMessage.objects.get(purpose="account.account_already_exists")
    assert_links_on_site([message])


# --- the portal's own mails -------------------------------------------------------------------


def test_signing_confirmation_links_to_site_url(client, django_capture_on_commit_callbacks):
    initiative = InitiativeFactory(accepts_signatures=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/initiatives/{initiative.slug}/sign/",
            {
                "kind": "individual",
                "ind-name": "李工程师",
                "ind-organisation": "某检验中心",
                "ind-province": "44",
                "ind-email": "li@example.com",
                "ind-privacy_consent": "on",
            },
        )
    assert response.status_code == 302
    assert_links_on_site(OutboxMessage.objects.filter(to="li@example.com"))


def test_course_registration_mails_link_to_site_url(client, django_capture_on_commit_callbacks):
    session = SessionFactory()
    visitor = {
        "name": "陈质量",
        "email": "chen@example.com",
        "organisation": "某装备制造有限公司",
        "privacy_consent": "on",
    }
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/courses/{session.pk}/register/", visitor)
    confirm = OutboxMessage.objects.get(to="chen@example.com")
    assert_links_on_site([confirm])
    client.force_login(UserFactory(email="member@example.com"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/courses/{session.pk}/register/")
    assert_links_on_site(
        OutboxMessage.objects.filter(to="member@example.com"),
        external={session.join_url},  # the meeting platform's own link
    )


def test_course_calendars_and_the_feed_address_use_site_url(client):
    from courses.models import MANAGE_LINK
    from cqa_portal.core.links import make

    registration = RegistrationFactory(session=SessionFactory())
    join_url = registration.session.join_url

    for path in (
        "/courses/calendar.ics",
        f"/courses/registration/{make(MANAGE_LINK, registration)}/calendar.ics",
    ):
        response = client.get(path)
        assert response.status_code == 200
        text = response.content.decode().replace("\r\n ", "")
        links = [link for link in _links(text) if link != join_url]
        assert links
        assert all(link.startswith(SITE + "/") for link in links), links
    html = client.get("/courses/").content.decode()
    assert f"{SITE}/courses/calendar.ics" in html
    assert "http://testserver" not in html


def test_invitation_mail_links_to_site_url(client, django_capture_on_commit_callbacks):
    admin = MembershipFactory(role=CompanyMembership.Role.ADMIN)
    client.force_login(admin.user)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/members/users/", {"email": "colleague@example.com"}).status_code == 302
    assert_links_on_site(OutboxMessage.objects.filter(to="colleague@example.com"))


def test_survey_reminder_links_to_site_url(django_capture_on_commit_callbacks):
    from surveys import services

    survey = covid_survey(closes_at=timezone.now() + timedelta(days=5), reminder_days="7,2")
    member_user(CompanyFactory(), role=CompanyMembership.Role.ADMIN, email="boss@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reminders_send_now(survey=survey) == 1
    assert_links_on_site(OutboxMessage.objects.filter(purpose="surveys.reminder"))
