"""Mail scanners open every link of a mail (alphagov/e-petitions#1661): every link of every mail
the portal sends, opened three times by a browser with no cookies, changes nothing in the
database. Only the one button on each page (a POST) acts."""

import datetime
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from courses import services as course_services
from courses.models import Registration
from cqa_portal.core.models import OutboxMessage
from members import services as member_services
from pledges import services as pledge_services
from surveys import services as survey_services
from tests.courses.factories import RegistrationFactory, SessionFactory
from tests.factories import StaffFactory
from tests.mails import links
from tests.members.factories import CompanyFactory, FeeFactory, MembershipFactory
from tests.pledges.factories import CoSignatureFactory, InitiativeFactory
from tests.surveys.factories import covid_survey

pytestmark = pytest.mark.django_db

# Kinds of mail the scenario below makes (the outbox purpose); a new kind with links belongs
# here too.
KINDS = {
    "pledges.signature.confirm",
    "pledges.signature.reminder",
    "pledges.signature.withdraw_link",
    "pledges.signature.company_receipt",
    "pledges.cosign_approved",
    "pledges.cosign_rejected",
    "courses.registration.confirm_request",
    "courses.registration.confirmed",
    "courses.registration.waiting",
    "courses.registration.promoted",
    "courses.registration.cancelled",
    "courses.reminder",
    "courses.session.cancelled",
    "members.invitation",
    "members.fee_reminder",
    "surveys.reminder",
    "account.email_confirmation_signup",
    "account.password_reset_key",
}


def dump_database() -> dict:
    """Every row of every table, as values; but the browser sessions: opening the password reset
    link keeps its key in the (anonymous) session and redirects, as Django does so that the key
    never leaks in a Referer. That is the visiting browser's state, not a change to anything."""
    rows = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.db_table == "django_session":
            continue
        rows[model._meta.db_table] = sorted(
            (tuple(sorted((k, repr(v)) for k, v in row.items())) for row in model.objects.values()),
        )
    return rows


def _every_mail(client):
    """Send one of every kind of mail with links, the way the portal sends them."""
    now = timezone.now()
    initiative = InitiativeFactory()
    data = pledge_services.SignatureInput(
        kind="individual", name="扫描测试", email="signer@example.com", province="11"
    )
    signature, _ = pledge_services.signature_sign(initiative=initiative, data=data)
    pledge_services.signature_confirm(signature_id=signature.pk, link_key=signature.link_key)
    pledge_services.signature_sign(initiative=initiative, data=data, at=now + timedelta(hours=1))
    pledge_services.signature_withdraw_link_resend(
        signature_id=signature.pk, link_key=signature.link_key, at=now + timedelta(hours=2)
    )
    admin = MembershipFactory(role="admin", company=CompanyFactory(status="active"))
    pledge_services.signature_sign_for_company(
        initiative=initiative, membership=admin, show_name=True
    )
    staff = StaffFactory()
    approved, rejected = CoSignatureFactory(), CoSignatureFactory()
    pledge_services.cosign_decide(cosignature_ids=[approved.pk], approve=True, actor=staff)
    pledge_services.cosign_decide(
        cosignature_ids=[rejected.pk], approve=False, actor=staff, note="无法核实"
    )

    session = SessionFactory(capacity=1)
    for name, email in (("甲", "jia@example.com"), ("乙", "yi@example.com")):
        outcome = course_services.registration_request(
            session_id=session.pk,
            name=name,
            email=email,
            organisation="某单位",
            language="zh-hans",
            consent_at=now,
        )
        course_services.registration_confirm(registration_id=outcome.registration.pk)
    first = Registration.objects.filter(session=session).order_by("pk").first()
    course_services.registration_cancel(registration_id=first.pk)
    start = now + timedelta(minutes=55)
    soon = SessionFactory(starts_at=start, ends_at=start + timedelta(hours=1))
    RegistrationFactory(session=soon, email="bing@example.com")
    course_services.reminders_sweep()
    course_services.session_cancel(session_id=soon.pk, actor=staff, reason="讲师生病")

    member_services.invitation_create(
        company=admin.company, email="colleague@example.com", actor=admin.user
    )
    FeeFactory(company=admin.company, due_date=datetime.date(2020, 3, 31))
    member_services.fee_reminders_send(today=datetime.date(2020, 3, 5))
    survey = covid_survey(closes_at=now + timedelta(days=5), reminder_days="7,2")
    survey_services.reminders_send(survey=survey, step="d7")

    client.post(
        "/accounts/signup/",
        {
            "email": "newuser@example.com",
            "password1": "A-long-passphrase-1",
            "password2": "A-long-passphrase-1",
            "name": "新用户",
            "privacy_consent": "on",
        },
    )
    client.post("/accounts/password/reset/", {"email": admin.user.email})


def test_opening_every_mail_link_three_times_changes_nothing(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _every_mail(client)
    purposes = set(OutboxMessage.objects.values_list("purpose", flat=True))
    assert KINDS <= purposes, (KINDS - purposes, sorted(purposes)[6:])
    found = set()
    for message in mailoutbox:
        found.update(links(message))
        for value in message.extra_headers.values():
            found.update(re.findall(r"<https?://[^/>]+(/[^>]*)>", str(value)))
    assert any("/signatures/confirm/" in u for u in found)
    assert any("/courses/confirm/" in u for u in found)
    assert any("/mail/unsubscribe/" in u for u in found)
    assert any("/accounts/confirm-email/" in u for u in found)
    client.logout()
    before = dump_database()
    for url in sorted(found):
        for _ in range(3):
            client.cookies.clear()
            response = client.get(url)
            assert response.status_code < 500, url
    assert dump_database() == before
