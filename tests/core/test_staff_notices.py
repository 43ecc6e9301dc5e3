"""Staff are told once, in a digest, of new membership applications, relief requests and
co-signatures, at the addresses and group set in the admin, in each recipient's language."""

import pytest
from django.contrib.auth.models import Group

from cqa_portal.core.models import (
    OutboxMessage,
    StaffNotice,
    StaffNoticeKind,
    StaffNotificationSetting,
)
from cqa_portal.core.services import staff_notice_record, staff_notices_send
from cqa_portal.core.tasks import staff_notices_task
from members.models import MembershipApplication
from pledges.models import CoSignature
from tests.factories import StaffFactory, UserFactory
from tests.members.factories import FeeFactory, MembershipFactory, ReliefFactory, reason
from tests.members.test_joining import _application_data, _level_pk
from tests.pledges.factories import AllianceFactory, CoSignatureFactory

pytestmark = pytest.mark.django_db


def _digests():
    return list(OutboxMessage.objects.filter(purpose="core.staff_notices").order_by("to"))


@pytest.fixture
def relief_setting():
    return StaffNotificationSetting.objects.create(
        kind=StaffNoticeKind.RELIEF_REQUEST, emails="Fees@CQA.example.org,\nhead@cqa.example.org"
    )


def test_five_arrivals_make_one_mail_per_recipient_listing_all_five(relief_setting):
    reliefs = [ReliefFactory() for _ in range(5)]
    for relief in reliefs:
        staff_notice_record(kind=StaffNoticeKind.RELIEF_REQUEST, obj=relief)
    assert staff_notices_send() == 2
    mails = _digests()
    assert [m.to for m in mails] == ["fees@cqa.example.org", "head@cqa.example.org"]
    for message in mails:
        assert "5" in message.subject
        for relief in reliefs:
            assert relief.company.name in message.body
            assert f"/admin/members/reliefrequest/{relief.pk}/decide/" in message.body
    assert not StaffNotice.objects.filter(notified_at__isnull=True).exists()


def test_told_once_running_the_task_twice_sends_nothing_more(relief_setting):
    relief = ReliefFactory()
    staff_notice_record(kind=StaffNoticeKind.RELIEF_REQUEST, obj=relief)
    staff_notice_record(kind=StaffNoticeKind.RELIEF_REQUEST, obj=relief)  # same arrival again
    assert StaffNotice.objects.count() == 1
    assert staff_notices_task() == 2
    assert staff_notices_task() == 0
    assert len(_digests()) == 2
    # A later arrival is a new mail, and only it is listed.
    later = ReliefFactory()
    staff_notice_record(kind=StaffNoticeKind.RELIEF_REQUEST, obj=later)
    assert staff_notices_send() == 2
    newest = OutboxMessage.objects.filter(purpose="core.staff_notices").order_by("-pk").first()
    assert later.company.name in newest.body and relief.company.name not in newest.body


def test_recipients_come_from_the_admin_setting_addresses_and_group():
    group = Group.objects.create(name="会员部")
    in_group = StaffFactory(email="member.desk@cqa.example.org")
    in_group.groups.add(group)
    inactive = StaffFactory(email="gone@cqa.example.org", is_active=False)
    inactive.groups.add(group)
    StaffNotificationSetting.objects.create(
        kind=StaffNoticeKind.MEMBERSHIP_APPLICATION, emails="desk@cqa.example.org", group=group
    )
    StaffNotificationSetting.objects.create(
        kind=StaffNoticeKind.COSIGNATURE, emails="alliance@cqa.example.org", is_active=False
    )
    application = MembershipApplication.objects.create(
        applicant=UserFactory(), company=MembershipFactory().company
    )
    staff_notice_record(kind=StaffNoticeKind.MEMBERSHIP_APPLICATION, obj=application)
    staff_notice_record(kind=StaffNoticeKind.COSIGNATURE, obj=CoSignatureFactory())
    staff_notices_send()
    assert [m.to for m in _digests()] == ["desk@cqa.example.org", "member.desk@cqa.example.org"]
    # Arrivals nobody is set to hear of are not kept waiting for ever.
    assert not StaffNotice.objects.filter(notified_at__isnull=True).exists()


def test_each_recipient_gets_the_mail_in_their_language():
    english = StaffFactory(email="english@cqa.example.org", language="en")
    StaffNotificationSetting.objects.create(
        kind=StaffNoticeKind.COSIGNATURE,
        emails=f"{english.email}\nchinese@cqa.example.org\nplain-en@cqa.example.org",
    )
    StaffNotificationSetting.objects.filter(kind=StaffNoticeKind.COSIGNATURE).update(
        language="zh-hans"
    )
    staff_notice_record(kind=StaffNoticeKind.COSIGNATURE, obj=CoSignatureFactory())
    staff_notices_send()
    mails = {m.to: m for m in _digests()}
    assert mails["english@cqa.example.org"].language == "en"
    assert "new arrival" in mails["english@cqa.example.org"].subject
    assert "New co-signature applications" in mails["english@cqa.example.org"].body
    assert mails["chinese@cqa.example.org"].language == "zh-hans"
    assert "新" in mails["chinese@cqa.example.org"].subject
    assert "?lang=en" in mails["english@cqa.example.org"].body


def test_arrivals_through_the_services_are_recorded(client, django_capture_on_commit_callbacks):
    """Applying for membership, submitting a relief request and applying to co-sign each
    record one notice, in the transaction that takes the arrival."""
    client.force_login(UserFactory())
    client.post("/members/apply/", _application_data(level=_level_pk()))
    membership = MembershipFactory()
    FeeFactory(company=membership.company)
    client.force_login(membership.user)
    client.post(
        "/members/relief/new/",
        {
            "year": "2020",
            "kind": "waiver",
            "reasons": [reason("production").pk],
            "explanation": "停产",
            "submit": "1",
        },
    )
    client.logout()
    AllianceFactory()
    client.post(
        "/alliance/co-sign/",
        {
            "organisation": "某省机械行业协会",
            "organisation_type": "association",
            "province": "37",
            "contact_name": "赵秘书长",
            "contact_email": "zhao@assoc.example.org",
            "privacy_consent": "on",
        },
    )
    assert CoSignature.objects.count() == 1
    assert sorted(StaffNotice.objects.values_list("kind", flat=True)) == [
        "cosignature",
        "membership_application",
        "relief_request",
    ]


def test_the_setting_is_editable_in_the_admin(admin_client):
    response = admin_client.post(
        "/admin/core/staffnotificationsetting/add/",
        {
            "kind": StaffNoticeKind.RELIEF_REQUEST,
            "emails": "fees@cqa.example.org",
            "language": "zh-hans",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert StaffNotificationSetting.objects.get().email_list() == ["fees@cqa.example.org"]
