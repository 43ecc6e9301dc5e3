"""Every retention the privacy notice states is enforced by a beat job: the data is created,
the clock moves past the retention and the job removes it (and keeps what is younger). The
notice shows the same numbers the jobs read (core.retention)."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from courses.models import Registration
from courses.tasks import registrations_purge_task
from cqa_portal.core import retention
from cqa_portal.core.models import OutboxMessage
from cqa_portal.core.tasks import outbox_purge_task
from members import services as member_services
from members.models import Invitation, ReliefDocument, ReliefRequest
from members.tasks import retention_purge_task
from pledges import services as pledge_services
from pledges.models import CoSignature, Signature
from pledges.tasks import signatures_purge_task
from tests.courses.factories import RegistrationFactory
from tests.members.factories import CompanyFactory, MembershipFactory, ReliefFactory
from tests.pledges.factories import CoSignatureFactory, InitiativeFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _later(days: float):
    """The clock moved on by ``days``: every ``timezone.now()`` answers that moment."""
    return mock.patch(
        "django.utils.timezone.now", return_value=timezone.now() + timedelta(days=days)
    )


def _days(name: str) -> int:
    return getattr(retention.get(), name)


def test_unconfirmed_signatures_go_after_the_retention(mailoutbox):
    initiative = InitiativeFactory()
    signature, _ = pledge_services.signature_sign(
        initiative=initiative,
        data=pledge_services.SignatureInput(
            kind="individual", name="未确认", email="pending@example.com", province="11"
        ),
        ip_hash="a" * 64,
    )
    assert OutboxMessage.objects.filter(to="pending@example.com").exists()
    days = _days("unconfirmed_signature_days")
    with _later(days - 1):
        signatures_purge_task()
    assert Signature.objects.filter(pk=signature.pk).exists()
    with _later(days + 1):
        signatures_purge_task()
    assert not Signature.objects.filter(pk=signature.pk).exists()
    assert not OutboxMessage.objects.filter(to="pending@example.com").exists()


def test_ip_hashes_go_after_the_retention():
    application = CoSignatureFactory(ip_hash="d" * 64)
    with _later(_days("ip_hash_days") + 1):
        signatures_purge_task()
    assert CoSignature.objects.get(pk=application.pk).ip_hash == ""


def test_rejected_co_signers_contact_details_go_after_the_retention(
    django_capture_on_commit_callbacks,
):
    from tests.factories import StaffFactory

    application = CoSignatureFactory(
        contact_name="拒绝联系人", contact_email="rejected@example.org", contact_phone="13800000000"
    )
    approved = CoSignatureFactory(contact_email="approved@example.org")
    staff = StaffFactory()
    with django_capture_on_commit_callbacks(execute=True):
        pledge_services.cosign_decide(cosignature_ids=[application.pk], approve=False, actor=staff)
        pledge_services.cosign_decide(cosignature_ids=[approved.pk], approve=True, actor=staff)
    assert OutboxMessage.objects.filter(to="rejected@example.org").exists()
    days = _days("rejected_cosign_days")
    with _later(days - 1):
        signatures_purge_task()
    assert CoSignature.objects.get(pk=application.pk).contact_email == "rejected@example.org"
    with _later(days + 1):
        signatures_purge_task()
    gone = CoSignature.objects.get(pk=application.pk)
    assert (gone.contact_name, gone.contact_email, gone.contact_phone) == ("", "", "")
    assert gone.status == CoSignature.Status.REJECTED and gone.organisation  # the decision stays
    assert not OutboxMessage.objects.filter(to="rejected@example.org").exists()
    assert CoSignature.objects.get(pk=approved.pk).contact_email == "approved@example.org"


def test_pending_course_registrations_go_after_the_retention():
    pending = RegistrationFactory(status=Registration.Status.PENDING, confirmed_at=None)
    confirmed = RegistrationFactory()
    OutboxMessage.objects.create(
        key=f"courses.registration.confirm_request:{pending.pk}:0",
        purpose="courses.registration.confirm_request",
        to=pending.email,
        subject="s",
        body="b",
    )
    days = _days("unconfirmed_registration_days")
    with _later(days - 1):
        registrations_purge_task()
    assert Registration.objects.filter(pk=pending.pk).exists()
    with _later(days + 1):
        assert registrations_purge_task() == 1
    assert not Registration.objects.filter(pk=pending.pk).exists()
    assert not OutboxMessage.objects.filter(to=pending.email).exists()
    assert Registration.objects.filter(pk=confirmed.pk).exists()
    with _later(days + 1):
        assert registrations_purge_task() == 0  # re-runnable


def test_expired_and_withdrawn_invitations_go_after_the_retention(settings):
    admin = MembershipFactory(role="admin")
    company = admin.company
    expired = member_services.invitation_create(
        company=company, email="late@example.com", actor=admin.user
    )
    withdrawn = member_services.invitation_create(
        company=company, email="withdrawn@example.com", actor=admin.user
    )
    member_services.invitation_revoke(invitation=withdrawn, actor=admin.user)
    link_days = settings.MEMBERS_INVITATION_MAX_AGE_DAYS
    days = _days("expired_invitation_days")
    with _later(days - 1):
        retention_purge_task()
    assert Invitation.objects.filter(pk=withdrawn.pk).exists()
    with _later(days + 1):
        retention_purge_task()
    assert not Invitation.objects.filter(pk=withdrawn.pk).exists()
    assert Invitation.objects.filter(pk=expired.pk).exists()  # its link still works
    with _later(link_days + days + 1):
        retention_purge_task()
    assert not Invitation.objects.filter(pk=expired.pk).exists()
    assert not OutboxMessage.objects.filter(to="late@example.com").exists()


def test_relief_documents_go_after_the_retention(django_capture_on_commit_callbacks):
    admin = MembershipFactory(role="admin")
    relief = ReliefFactory(company=admin.company, status=ReliefRequest.Status.DRAFT)
    document = member_services.relief_document_add(
        relief=relief, upload=SimpleUploadedFile("证明.pdf", PDF), actor=admin.user
    )
    path = document.file.path
    open_relief = ReliefFactory(company=CompanyFactory())
    kept = member_services.relief_document_add(
        relief=open_relief, upload=SimpleUploadedFile("b.pdf", PDF), actor=admin.user
    )
    ReliefRequest.objects.filter(pk=relief.pk).update(
        status=ReliefRequest.Status.REJECTED, decided_at=timezone.now()
    )
    days = _days("relief_document_days")
    with _later(days - 1):
        retention_purge_task()
    assert ReliefDocument.objects.filter(pk=document.pk).exists()
    with django_capture_on_commit_callbacks(execute=True), _later(days + 1):
        result = retention_purge_task()
    assert result["relief_documents_deleted"] == 1
    assert not ReliefDocument.objects.filter(pk=document.pk).exists()
    import os

    assert not os.path.exists(path)
    relief.refresh_from_db()
    assert relief.status == ReliefRequest.Status.REJECTED  # the decision stays
    assert ReliefDocument.objects.filter(pk=kept.pk).exists()  # still under review


def test_sent_mails_go_after_the_retention():
    row = OutboxMessage.objects.create(
        key="k",
        purpose="p",
        to="old@example.com",
        subject="s",
        body="b",
        status=OutboxMessage.Status.SENT,
        sent_at=timezone.now(),
    )
    days = _days("sent_mail_days")
    with _later(days - 1):
        outbox_purge_task()
    assert OutboxMessage.objects.filter(pk=row.pk).exists()
    with _later(days + 1):
        outbox_purge_task()
    assert not OutboxMessage.objects.filter(pk=row.pk).exists()


def test_every_retention_job_is_on_the_beat_schedule():
    from cqa_portal.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    for name in (
        "pledges.signatures.purge",
        "courses.registrations.purge",
        "members.retention.purge",
        "core.outbox.purge",
        "core.personal_data.purge",
    ):
        assert name in tasks and name in app.tasks, name


def test_the_privacy_notice_shows_the_values_the_jobs_read(client, settings):
    settings.PORTAL_RETENTION = {
        name: 11 + i for i, name in enumerate(retention.Retention.__dataclass_fields__)
    }
    html = client.get("/privacy/").content.decode()
    for i, name in enumerate(retention.Retention.__dataclass_fields__):
        item_id = "retention-" + name.replace("_", "-")
        start = html.index(f'id="{item_id}"')
        item = html[start : html.index("</li>", start)]
        assert str(11 + i) in item, (name, item)


def test_requests_for_a_data_link_go_after_the_retention():
    from cqa_portal.core import links as core_links
    from cqa_portal.core.models import PersonalDataRequest
    from cqa_portal.core.tasks import personal_data_purge_task

    request = PersonalDataRequest.objects.create(
        email="asked@example.com", link_key=core_links.new_key()
    )
    days = _days("data_request_days")
    with _later(days - 1):
        personal_data_purge_task()
    assert PersonalDataRequest.objects.filter(pk=request.pk).exists()
    with _later(days + 1):
        personal_data_purge_task()
    assert not PersonalDataRequest.objects.filter(pk=request.pk).exists()
