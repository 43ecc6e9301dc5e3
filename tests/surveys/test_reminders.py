"""Reminders: once per company, survey and step; never to companies that submitted."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cqa_portal.core.models import OutboxMessage
from members.models import CompanyMembership, MemberCompany
from surveys import services
from surveys.models import Survey
from surveys.selectors import reminders_sent
from surveys.tasks import reminders_sweep_task
from tests.mails import assert_english, path_of

from .factories import COMPLETE, CompanyFactory, covid_survey, file_response, member_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey():
    return covid_survey(closes_at=timezone.now() + timedelta(days=5), reminder_days="7,2")


@pytest.fixture
def companies(survey):
    with_admin = CompanyFactory(name="甲公司")
    member_user(with_admin, role=CompanyMembership.Role.ADMIN, email="jia.boss@jia.example.com")
    member_user(with_admin, email="jia.colleague@jia.example.com")  # colleagues get nothing
    contact_only = CompanyFactory(name="乙公司", contact_email="contact@yi.example.com")
    submitted = CompanyFactory(name="丙公司")
    member_user(submitted, role=CompanyMembership.Role.ADMIN, email="bing.boss@bing.example.com")
    file_response(survey, submitted, COMPLETE)
    drafting = CompanyFactory(name="丁公司", contact_email="contact@ding.example.com")
    file_response(survey, drafting, {"impact_degree": "slight"}, submit=False)
    CompanyFactory(status=MemberCompany.Status.LAPSED, contact_email="old@lapsed.example.com")
    return with_admin, contact_only, submitted, drafting


def test_sweep_sends_the_due_step_once(
    survey, companies, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_sweep_task() == 3
    recipients = sorted(m.to[0] for m in mailoutbox)
    assert recipients == [
        "contact@ding.example.com",
        "contact@yi.example.com",
        "jia.boss@jia.example.com",
    ]
    assert reminders_sent(survey) == [("d7", 3, 3)]  # the outbox is the ledger
    mail = mailoutbox[0]
    assert survey.title in mail.subject
    assert f"/surveys/{survey.slug}/" in mail.body
    # One language per mail, the recipient's (here Chinese): no English half.
    assert "各位同事" in mail.body
    assert "Dear colleagues" not in mail.body
    # Running again sends nothing more for the same step.
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_sweep_task() == 0
    assert len(mailoutbox) == 3


def test_next_step_reminds_again_but_not_those_who_submitted_meanwhile(
    survey, companies, mailoutbox, django_capture_on_commit_callbacks
):
    with_admin, contact_only, _submitted, _drafting = companies
    with django_capture_on_commit_callbacks(execute=True):
        services.reminders_sweep()
    file_response(survey, with_admin, COMPLETE)
    later = survey.closes_at - timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reminders_sweep(now=later) == 2
    d2 = OutboxMessage.objects.filter(key__contains=":d2:").values_list("to", flat=True)
    assert sorted(d2) == ["contact@ding.example.com", "contact@yi.example.com"]
    assert reminders_sent(survey) == [("d2", 2, 2), ("d7", 3, 3)]
    assert len(mailoutbox) == 5
    assert OutboxMessage.objects.filter(purpose="surveys.reminder").count() == 5


def test_no_step_due_yet(survey, companies, mailoutbox):
    early = survey.closes_at - timedelta(days=8)
    assert services.reminder_step_due(survey, now=early) is None
    assert services.reminder_step_due(survey, now=survey.closes_at - timedelta(days=3)) == "d7"
    assert services.reminder_step_due(survey, now=survey.closes_at - timedelta(hours=1)) == "d2"
    assert services.reminder_step_due(survey, now=survey.closes_at) is None


def test_closed_survey_sends_nothing(survey, companies, mailoutbox):
    Survey.objects.filter(pk=survey.pk).update(status=Survey.Status.CLOSED)
    survey.refresh_from_db()
    assert services.reminders_send(survey=survey, step="d7") == 0
    assert mailoutbox == []


def test_manual_reminder_once_a_day(
    survey, companies, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reminders_send_now(survey=survey) == 3
        assert services.reminders_send_now(survey=survey) == 0
    assert len(mailoutbox) == 3


def test_each_administrator_gets_the_reminder_in_their_own_language_only(
    survey, mailoutbox, django_capture_on_commit_callbacks
):
    company = CompanyFactory(name="Jia Quality")
    english = member_user(company, role=CompanyMembership.Role.ADMIN, language="en")
    chinese = member_user(company, role=CompanyMembership.Role.ADMIN, language="zh-hans")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reminders_send(survey=survey, step="d7") == 1
    by_recipient = {m.to[0]: m for m in mailoutbox}
    en_mail, zh_mail = by_recipient[english.email], by_recipient[chinese.email]
    assert_english(en_mail, prefix=False)
    assert survey.title_en in en_mail.subject
    assert en_mail.from_email.startswith("China Association for Quality")
    assert path_of(en_mail, f"/surveys/{survey.slug}/").endswith("?lang=en")
    assert "各位同事" in zh_mail.body and "Dear colleagues" not in zh_mail.body
    assert zh_mail.from_email.startswith("中国质量协会")
    assert survey.title in zh_mail.subject
