"""Every kind of person the portal knows (a member user, a signer, a visitor registrant, a
co-signer) sees, downloads, corrects and erases their data themselves; afterwards none of
their names, addresses, telephone numbers, emails or IP hashes is anywhere in the database.
Staff do the same for requests received by post or telephone, and it is logged."""

import io
import json
import re

import pytest
from django.apps import apps
from django.db import models
from openpyxl import load_workbook

from courses import services as course_services
from cqa_portal.core.models import AuditEntry, OutboxMessage
from members import services as member_services
from members.models import CompanyMembership
from pledges import services as pledge_services
from pledges.models import CoSignature, Signature
from tests.courses.factories import SessionFactory
from tests.factories import StaffFactory, UserFactory
from tests.members.factories import CompanyFactory, MembershipFactory
from tests.pledges.factories import CoSignatureFactory, InitiativeFactory

pytestmark = pytest.mark.django_db


def database_text() -> str:
    """Every text-like value of every row of every table, one per line."""
    values = []
    for model in apps.get_models(include_auto_created=True):
        names = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(
                f, models.CharField | models.TextField | models.EmailField | models.JSONField
            )
        ]
        if names:
            for row in model.objects.values_list(*names):
                values.extend(str(v) for v in row if v)
    return "\n".join(values)


def assert_gone(*needles):
    text = database_text()
    for needle in needles:
        assert needle not in text, f"{needle!r} is still in the database"


def _link(mail, start):
    return re.search(rf"https?://[^/\s]+({start}[^\s]+)", mail.body).group(1)


def _walk(client, base, download, *, name, new_name, email):
    """See → download (JSON and XLSX) → correct → erase, on the page at ``base``."""
    page = client.get(base)
    assert page.status_code == 200
    html = page.content.decode()
    assert name in html and email in html
    data = json.loads(client.get(download("json")).content)
    assert email in json.dumps(data, ensure_ascii=False)
    workbook = load_workbook(io.BytesIO(b"".join(client.get(download("xlsx")).streaming_content)))
    cells = [
        str(c) for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for c in row
    ]
    assert email in cells
    corrected = client.post(base, {"action": "correct", "name": new_name}, follow=True)
    assert new_name in corrected.content.decode()
    erased = client.post(base, {"action": "erase", "confirm": "on"})
    assert erased.status_code == 200 and 'id="erased"' in erased.content.decode()


def _mailed_link(client, email, mailoutbox, capture):
    with capture(execute=True):
        sent = client.post("/me/data/request/", {"email": email})
    assert 'id="data-request-sent"' in sent.content.decode()
    [mail] = [m for m in mailoutbox if m.to == [email] and "/me/data/" in m.body]
    return _link(mail, "/me/data/").partition("?")[0]


def test_member_user_sees_downloads_corrects_and_erases_their_account(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory(first_name="王小明", email="wang.xiaoming@example.com")
    company = CompanyFactory(contact_email="wang.xiaoming@example.com", contact_name="王小明")
    admin = MembershipFactory(user=user, company=company, role="admin")
    colleague = MembershipFactory(company=company, role="colleague")
    with django_capture_on_commit_callbacks(execute=True):
        member_services.invitation_create(company=company, email="new@example.com", actor=user)
    session = SessionFactory()
    course_services.registration_register_user(session_id=session.pk, user=user, language="zh-hans")
    initiative = InitiativeFactory()
    pledge_services.signature_sign_for_company(
        initiative=initiative, membership=admin, show_name=True
    )
    entries = AuditEntry.objects.filter(actor=user).count()
    assert entries >= 2

    client.force_login(user)
    # The only administrator must hand the role over first; nothing is erased meanwhile.
    refused = client.post("/me/data/", {"action": "erase", "confirm": "on"})
    assert refused.status_code == 400
    assert CompanyMembership.objects.filter(user=user).exists()
    page = client.get("/me/data/").content.decode()
    assert 'name="successor"' in page
    _walk_member(client, colleague)
    assert not client.get("/me/data/").status_code == 200  # logged out

    colleague.refresh_from_db()
    assert colleague.role == "admin"
    user.refresh_from_db()
    assert not user.is_active and str(user).startswith("已删除的用户 #")
    # The audit log keeps every decision, with the pseudonym as actor.
    assert AuditEntry.objects.filter(actor=user).count() >= entries
    assert Signature.objects.filter(company=company, status="confirmed").exists()
    assert_gone("王小明", "王大明", "wang.xiaoming@example.com", "wang.xiaoming")


def _walk_member(client, colleague):
    base = "/me/data/"
    html = client.get(base).content.decode()
    assert "王小明" in html and "wang.xiaoming@example.com" in html
    data = json.loads(client.get("/me/data/download.json").content)
    text = json.dumps(data, ensure_ascii=False)
    assert "wang.xiaoming@example.com" in text and "new@example.com" in text  # the invitation
    workbook = load_workbook(
        io.BytesIO(b"".join(client.get("/me/data/download.xlsx").streaming_content))
    )
    assert len(workbook.worksheets) >= 5
    client.post(base, {"action": "correct", "name": "王大明"})
    assert "王大明" in client.get(base).content.decode()
    erased = client.post(base, {"action": "erase", "confirm": "on", "successor": colleague.pk})
    assert erased.status_code == 200 and 'id="erased"' in erased.content.decode()


def test_signer_erases_through_a_mailed_link(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    initiative = InitiativeFactory()
    with django_capture_on_commit_callbacks(execute=True):
        signature, _ = pledge_services.signature_sign(
            initiative=initiative,
            data=pledge_services.SignatureInput(
                kind="individual",
                name="李签名",
                email="li.signer@example.com",
                province="11",
                organisation="某检验中心",
            ),
            ip_hash="f" * 64,
        )
    pledge_services.signature_confirm(signature_id=signature.pk, link_key=signature.link_key)
    base = _mailed_link(
        client, "li.signer@example.com", mailoutbox, django_capture_on_commit_callbacks
    )
    _walk(
        client,
        base,
        lambda fmt: f"{base}download.{fmt}",
        name="李签名",
        new_name="李改名",
        email="li.signer@example.com",
    )
    signature.refresh_from_db()
    assert signature.status == Signature.Status.WITHDRAWN  # an anonymous marker stays
    assert client.get(base).status_code == 410  # the link is used up
    assert_gone("李签名", "李改名", "li.signer@example.com", "f" * 64)


def test_visitor_registrant_erases_through_a_mailed_link(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    session = SessionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = course_services.registration_request(
            session_id=session.pk,
            name="赵学员",
            email="zhao.visitor@example.com",
            organisation="赵氏制造",
            language="zh-hans",
            consent_at=timezone.now(),
        )
        course_services.registration_confirm(registration_id=outcome.registration.pk)
    base = _mailed_link(
        client, "zhao.visitor@example.com", mailoutbox, django_capture_on_commit_callbacks
    )
    _walk(
        client,
        base,
        lambda fmt: f"{base}download.{fmt}",
        name="赵学员",
        new_name="赵新名",
        email="zhao.visitor@example.com",
    )
    assert_gone("赵学员", "赵新名", "zhao.visitor@example.com", "赵氏制造")


def test_co_signer_erases_through_a_mailed_link(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    application = CoSignatureFactory(
        contact_name="钱联系",
        contact_email="qian.contact@example.org",
        contact_phone="13912345678",
        ip_hash="e" * 64,
    )
    with django_capture_on_commit_callbacks(execute=True):
        pledge_services.cosign_decide(
            cosignature_ids=[application.pk], approve=True, actor=StaffFactory()
        )
    base = _mailed_link(
        client, "qian.contact@example.org", mailoutbox, django_capture_on_commit_callbacks
    )
    client.post(base, {"action": "correct", "phone": "13800000000"})
    assert CoSignature.objects.get(pk=application.pk).contact_phone == "13800000000"
    _walk(
        client,
        base,
        lambda fmt: f"{base}download.{fmt}",
        name="钱联系",
        new_name="钱新名",
        email="qian.contact@example.org",
    )
    application.refresh_from_db()
    assert application.status == CoSignature.Status.APPROVED and application.organisation
    assert_gone(
        "钱联系", "钱新名", "qian.contact@example.org", "13912345678", "13800000000", "e" * 64
    )


def test_unknown_address_gets_the_same_answer_and_no_mail(client, mailoutbox):
    sent = client.post("/me/data/request/", {"email": "nobody@example.com"})
    assert 'id="data-request-sent"' in sent.content.decode()
    assert not OutboxMessage.objects.filter(to="nobody@example.com").exists()


def test_staff_export_and_erase_on_a_postal_request_are_logged(client):
    initiative = InitiativeFactory()
    pledge_services.signature_sign(
        initiative=initiative,
        data=pledge_services.SignatureInput(
            kind="individual", name="孙来信", email="sun.letter@example.com", province="11"
        ),
    )
    staff = StaffFactory()
    client.force_login(staff)
    form = {"email": "sun.letter@example.com", "reason": "2026-11-30 来信"}
    shown = client.post("/me/data/staff/", {**form, "action": "show"})
    assert "孙来信" in shown.content.decode()
    download = client.post("/me/data/staff/", {**form, "action": "xlsx"})
    assert download["Content-Type"].startswith("application/vnd.openxmlformats")
    erased = client.post("/me/data/staff/", {**form, "action": "erase"})
    assert 'id="staff-erased"' in erased.content.decode()
    actions = list(
        AuditEntry.objects.filter(actor=staff, action__startswith="core.personal_data").values_list(
            "action", flat=True
        )
    )
    assert actions.count("core.personal_data.exported") == 2
    assert "core.personal_data.erased" in actions
    assert_gone("孙来信", "sun.letter@example.com")


def test_personal_data_pages_are_for_their_people(client):
    assert client.get("/me/data/").status_code == 302  # login first
    member = MembershipFactory().user
    client.force_login(member)
    assert client.get("/me/data/staff/").status_code == 302  # staff only
    assert client.get("/me/data/forged.token/").status_code == 404
