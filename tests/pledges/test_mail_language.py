"""Pledges' mails: in the signer's or applicant's language (never the staff member's); links open
in it in a fresh browser; company names arrive verbatim or are refused before anything is
written."""

import pytest
from django.utils import translation

from cqa_portal.core.models import OutboxMessage
from members.models import CompanyMembership
from pledges import services
from pledges.models import CoSignature, Signature
from tests.factories import StaffFactory, UserFactory
from tests.mails import assert_chinese, assert_english, assert_opens_in_english, path_of
from tests.members.factories import CompanyFactory

from .factories import AllianceFactory, CoSignatureFactory
from .test_signing import individual_data, sign

pytestmark = pytest.mark.django_db


def test_english_signer_gets_english_mail_whose_links_open_in_english(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks
):
    client.cookies["django_language"] = "en"
    sign(client, initiative, individual_data(), django_capture_on_commit_callbacks)
    signature = Signature.objects.get()
    assert signature.language == "en"
    (message,) = mailoutbox
    assert_english(message, names=["李工程师", "某检验中心"])

    withdraw = path_of(message, "/signatures/withdraw/")
    assert withdraw.endswith("?lang=en")
    assert_opens_in_english(client, withdraw)

    confirm = path_of(message, "/signatures/confirm/")
    assert confirm.endswith("?lang=en")
    html = assert_opens_in_english(client, confirm)
    assert "Confirm my signature" in html
    assert "Signature confirmed" in client.post(confirm).content.decode()


def test_chinese_signer_gets_chinese_mail(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks
):
    sign(client, initiative, individual_data(), django_capture_on_commit_callbacks)
    assert Signature.objects.get().language == "zh-hans"
    assert_chinese(mailoutbox[0])


@pytest.mark.parametrize(
    ("applicant", "staff", "check"),
    [("en", "zh-hans", assert_english), ("zh-hans", "en", assert_chinese)],
)
def test_cosign_decision_follows_the_applicant_language_not_the_staff_member(
    client, mailoutbox, django_capture_on_commit_callbacks, applicant, staff, check
):
    AllianceFactory()
    client.cookies["django_language"] = applicant
    form = {
        "organisation": "Shandong Machinery Association",
        "organisation_type": "association",
        "province": "37",
        "contact_name": "Zhao",
        "contact_email": "zhao@assoc.example.org",
        "privacy_consent": "on",
    }
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/alliance/co-sign/", form)
    application = CoSignature.objects.get()
    assert application.language == applicant
    check(mailoutbox[0])

    client.cookies["django_language"] = staff
    client.force_login(StaffFactory())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/pledges/cosignature/",
            {"action": "approve", "_selected_action": [application.pk]},
        )
    assert CoSignature.objects.get().status == "approved"
    assert len(mailoutbox) == 2
    check(mailoutbox[1])


def test_cosign_rejection_by_service_uses_the_stored_language():
    cosignature = CoSignatureFactory(language="en", organisation="Alpha Association")
    with translation.override("zh-hans"):
        services.cosign_decide(
            cosignature_ids=[cosignature.pk], approve=False, actor=None, note="Not verified"
        )
    outbox = OutboxMessage.objects.get()
    assert outbox.language == "en"
    assert "co-sign" in outbox.subject


def _company_admin(name):
    user = UserFactory(language="zh-hans")
    company = CompanyFactory(name=name)
    CompanyMembership.objects.create(user=user, company=company, role="admin")
    return user


def test_company_receipt_subject_is_plain_text(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(_company_admin("甲&乙 <b>科技</b>"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/initiatives/{initiative.slug}/sign/company/")
    assert response.status_code == 302
    (message,) = mailoutbox
    assert "甲&乙 <b>科技</b>" in message.subject
    assert "&amp;" not in message.subject + message.body
    assert "&lt;" not in message.subject + message.body


def test_company_name_that_breaks_the_subject_is_refused_and_nothing_written(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(_company_admin("甲公司\r\nBcc: victim@example.com"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/initiatives/{initiative.slug}/sign/company/", follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "换行符" in html
    assert not Signature.objects.exists()
    assert not OutboxMessage.objects.exists()
    assert mailoutbox == []
