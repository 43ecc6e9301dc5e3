"""Members' mails: each administrator in their own language; names arrive verbatim; a name that
would break the subject is refused with a clear message and nothing is written."""

import datetime

import pytest

from cqa_portal.core.errors import PortalError
from cqa_portal.core.models import AuditEntry, OutboxMessage
from members import services
from members.models import CompanyMembership, Invitation
from tests.factories import UserFactory
from tests.mails import assert_chinese, assert_english, assert_opens_in_english, path_of

from .factories import CompanyFactory, FeeFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_fee_reminder_goes_to_each_administrator_in_their_language(
    mailoutbox, django_capture_on_commit_callbacks
):
    company = CompanyFactory(name="Jia Quality Ltd")
    english = MembershipFactory(company=company, user=UserFactory(language="en"))
    chinese = MembershipFactory(company=company, user=UserFactory(language="zh-hans"))
    FeeFactory(company=company, due_date=datetime.date(2020, 3, 31))
    with django_capture_on_commit_callbacks(execute=True):
        services.fee_reminders_send(today=datetime.date(2020, 3, 5))
    by_recipient = {m.to[0]: m for m in mailoutbox}
    assert set(by_recipient) == {english.user.email, chinese.user.email}
    assert_english(by_recipient[english.user.email])
    assert "membership fee" in by_recipient[english.user.email].subject
    assert_chinese(by_recipient[chinese.user.email])
    assert "会费" in by_recipient[chinese.user.email].subject


def test_invitation_is_in_the_invitee_language_and_its_link_opens_in_it(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    admin = MembershipFactory(company=CompanyFactory(name="Yi Precision"))
    invitee = UserFactory(email="invitee@example.com", language="en")
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(company=admin.company, email=invitee.email, actor=admin.user)
    (message,) = mailoutbox
    assert_english(message, names=[admin.user.get_full_name()])
    link = path_of(message, "/members/invitations/")
    assert link.endswith("?lang=en")
    html = assert_opens_in_english(client, link)
    assert "Yi Precision" in html


def test_invitation_to_someone_without_account_is_in_the_inviter_language(
    mailoutbox, django_capture_on_commit_callbacks
):
    admin = MembershipFactory(user=UserFactory(language="en"), company=CompanyFactory(name="Bing"))
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(company=admin.company, email="new@example.com", actor=admin.user)
    assert_english(mailoutbox[0], names=[admin.user.get_full_name()])


def test_company_name_with_markup_characters_arrives_verbatim(
    mailoutbox, django_capture_on_commit_callbacks
):
    admin = MembershipFactory(company=CompanyFactory(name="甲&乙 <b>公司</b>"))
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(company=admin.company, email="c@example.com", actor=admin.user)
    (message,) = mailoutbox
    assert "甲&乙 <b>公司</b>" in message.subject
    assert "甲&乙 <b>公司</b>" in message.body
    assert "&amp;" not in message.subject + message.body
    assert "&lt;" not in message.subject + message.body


@pytest.mark.parametrize("name", ["甲公司\r\nBcc: victim@example.com", "甲公司\n", "甲\x0b公司"])
def test_company_name_that_breaks_the_subject_is_refused_and_nothing_written(name):
    admin = MembershipFactory(company=CompanyFactory(name=name))
    audit_before = AuditEntry.objects.count()
    with pytest.raises(PortalError):
        services.invitation_create(company=admin.company, email="d@example.com", actor=admin.user)
    assert not Invitation.objects.exists()
    assert not OutboxMessage.objects.exists()
    assert AuditEntry.objects.count() == audit_before


def test_invitation_page_shows_the_refusal_instead_of_claiming_it_was_sent(client):
    admin = MembershipFactory(company=CompanyFactory(name="甲公司\r\n乙"))
    client.force_login(admin.user)
    response = client.post("/members/users/", {"email": "e@example.com"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "换行符" in html
    assert "e@example.com" not in [i.email for i in Invitation.objects.all()]
    assert not OutboxMessage.objects.exists()
    assert CompanyMembership.objects.count() == 1
