"""The privacy notice is versioned: every consent records the version accepted, and a new
version asks signed-in people to accept it again before they go on."""

import pytest
from django.utils import timezone

from courses import services as course_services
from cqa_portal.core import privacy
from cqa_portal.core.models import AuditEntry
from pledges import services as pledge_services
from tests.courses.factories import SessionFactory
from tests.factories import UserFactory
from tests.pledges.factories import AllianceFactory, InitiativeFactory

pytestmark = pytest.mark.django_db


def test_every_consent_records_the_notice_version(client, settings):
    settings.PRIVACY_NOTICE_VERSION = "2030-01"
    signature, _ = pledge_services.signature_sign(
        initiative=InitiativeFactory(),
        data=pledge_services.SignatureInput(
            kind="individual", name="甲", email="a@example.com", province="11"
        ),
    )
    assert signature.consent_version == "2030-01"
    cosignature, _ = pledge_services.cosign_apply(
        alliance=AllianceFactory(),
        data={
            "organisation": "某协会",
            "organisation_type": "association",
            "province": "42",
            "contact_name": "乙",
            "contact_email": "b@example.org",
        },
    )
    assert cosignature.consent_version == "2030-01"
    outcome = course_services.registration_request(
        session_id=SessionFactory().pk,
        name="丙",
        email="c@example.com",
        organisation="",
        language="zh-hans",
        consent_at=timezone.now(),
    )
    assert outcome.registration.privacy_consent_version == "2030-01"
    client.post(
        "/accounts/signup/",
        {
            "email": "d@example.com",
            "name": "丁",
            "password1": "A-long-passphrase-1",
            "password2": "A-long-passphrase-1",
            "privacy_consent": "on",
        },
    )
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.get(email="d@example.com").privacy_consent_version == "2030-01"
    assert "2030-01" in client.get("/privacy/").content.decode()


def test_a_new_version_asks_signed_in_people_to_accept_it_again(client, settings):
    user = UserFactory()
    client.force_login(user)
    assert client.get("/members/").status_code == 200  # the current version is accepted
    settings.PRIVACY_NOTICE_VERSION = "2031-06"
    response = client.get("/members/?tab=1")
    assert response.status_code == 302
    assert response["Location"] == "/privacy/accept/?next=%2Fmembers%2F%3Ftab%3D1"
    # The notice itself, logging out and the data pages stay reachable.
    assert client.get("/privacy/").status_code == 200
    assert client.get("/me/data/").status_code == 200
    page = client.get(response["Location"])
    assert 'id="privacy-accept"' in page.content.decode()
    user.refresh_from_db()
    assert user.privacy_consent_version != "2031-06"  # a GET accepts nothing
    accepted = client.post("/privacy/accept/", {"next": "/members/?tab=1"})
    assert accepted["Location"] == "/members/?tab=1"
    user.refresh_from_db()
    assert user.privacy_consent_version == privacy.version() == "2031-06"
    assert user.privacy_consent_at is not None
    assert AuditEntry.objects.filter(
        actor=user, action="core.account.privacy_consented", to_state="2031-06"
    ).exists()
    assert client.get("/members/").status_code == 200
    # Never back to another site.
    assert client.post("/privacy/accept/", {"next": "https://evil.example/"})["Location"] == "/"


def test_anonymous_visitors_are_not_asked(client, settings):
    settings.PRIVACY_NOTICE_VERSION = "2031-06"
    assert client.get("/").status_code == 200
    assert client.get("/privacy/accept/").status_code == 302  # login first
