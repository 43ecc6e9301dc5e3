"""The one mail path: multipart text + HTML in the recipient's language, Reply-To, no internal
headers, one-click unsubscribe per kind (RFC 8058), one bulk path for survey and dues
reminders with the outbox as the ledger, and the course .ics attached at send time."""

import datetime
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar

from courses.models import Registration
from cqa_portal.core import mail, services
from cqa_portal.core.models import MailOptOut, OutboxMessage
from members import services as member_services
from surveys import services as survey_services
from tests.courses.factories import RegistrationFactory, SessionFactory
from tests.factories import UserFactory
from tests.mails import app_callbacks
from tests.members.factories import CompanyFactory, FeeFactory, MembershipFactory
from tests.surveys.factories import covid_survey

pytestmark = pytest.mark.django_db

ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def _parts(message):
    """(text, html, attachments) of a sent mail, parsed back from its bytes."""
    import email
    import email.policy

    parsed = email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    html_part = parsed.get_body(preferencelist=("html",))
    html = html_part.get_content() if html_part else ""
    return parsed, text, html, list(parsed.iter_attachments())


def _unsubscribe(parsed) -> str:
    return re.fullmatch(r"\s*<([^<>\s]+)>\s*", str(parsed["List-Unsubscribe"])).group(1)


def _survey():
    return covid_survey(closes_at=timezone.now() + timedelta(days=5), reminder_days="7,2")


def _remind(survey, step, capture):
    with capture(execute=True):
        return survey_services.reminders_send(survey=survey, step=step)


def _dues(today, capture):
    with capture(execute=True):
        return member_services.fee_reminders_send(today=today)


def test_a_mail_is_multipart_in_the_recipients_language_with_reply_to_and_no_internal_header(
    mailoutbox, django_capture_on_commit_callbacks
):
    company = CompanyFactory(name="Jia Quality")
    english = MembershipFactory(company=company, user=UserFactory(language="en")).user
    survey = _survey()
    assert _remind(survey, "d7", django_capture_on_commit_callbacks) == 1
    [sent] = mailoutbox
    parsed, text, html, _attachments = _parts(sent)
    assert parsed.get_content_type() == "multipart/alternative"
    assert "Dear colleagues of Jia Quality" in text
    assert "Dear colleagues of Jia Quality" in html and '<html lang="en"' in html
    assert "各位同事" not in text + html
    assert "China Association for Quality" in html  # the base layout's header and footer
    assert parsed["Reply-To"] == "service@caq.example.org"
    assert "X-Portal-Message" not in parsed
    for name, value in parsed.items():
        if name.lower() not in ("to", "reply-to", "from"):
            assert english.email not in str(value), name
            assert english.email.split("@")[0] not in str(value), name
    assert parsed["To"] == english.email
    # The Message-ID is a keyed hash: stable per row, no trace of the key or the address.
    row = OutboxMessage.objects.get()
    assert parsed["Message-ID"] == services.message_id_header(row)
    assert not ADDRESS.search(parsed["Message-ID"].split("@")[0])


def test_bulk_mails_carry_one_click_unsubscribe_headers(
    mailoutbox, django_capture_on_commit_callbacks
):
    company = CompanyFactory(contact_email="boss@jia.example.com")
    _remind(_survey(), "d7", django_capture_on_commit_callbacks)
    [sent] = mailoutbox
    parsed, text, html, _ = _parts(sent)
    url = _unsubscribe(parsed)
    assert url.startswith("http") and "/mail/unsubscribe/" in url
    assert company.contact_email not in url
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in text and url in html  # the footer link too
    assert mail.UNSUBSCRIBE_MARK not in text + html
    # A transactional mail has no unsubscribe header.
    with django_capture_on_commit_callbacks(execute=True):
        services.outbox_enqueue(
            key="t:1", purpose="test", to="a@example.com", subject="s", body="b", language="en"
        )
    assert "List-Unsubscribe" not in _parts(mailoutbox[-1])[0]


def test_one_click_post_opts_out_of_that_kind_only(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    address = "boss@jia.example.com"
    company = CompanyFactory(contact_email=address)
    FeeFactory(company=company, due_date=datetime.date(2020, 3, 31))
    survey = _survey()
    _remind(survey, "d7", django_capture_on_commit_callbacks)
    url = _unsubscribe(_parts(mailoutbox[0])[0])
    path = url.split("://", 1)[1].split("/", 1)[1]

    # A mail program's one-click POST: no CSRF token, no cookie.
    csrf_client = client.__class__(enforce_csrf_checks=True)
    response = csrf_client.post(
        "/" + path, {"List-Unsubscribe": "One-Click"}, HTTP_HOST="testserver"
    )
    assert response.status_code == 200
    assert MailOptOut.objects.filter(email=address, kind="surveys.reminder").count() == 1
    response = csrf_client.post("/" + path)  # repeated: still one opt-out
    assert MailOptOut.objects.count() == 1

    # The next survey reminder run skips that recipient; dues reminders still arrive.
    mailoutbox.clear()
    _remind(survey, "d2", django_capture_on_commit_callbacks)
    assert mailoutbox == []
    assert not OutboxMessage.objects.filter(key__contains=":d2:").exists()
    assert _dues(datetime.date(2020, 3, 5), django_capture_on_commit_callbacks) == 1
    assert [m.to for m in mailoutbox] == [[address]]


def test_get_shows_one_button_and_changes_nothing(client, django_capture_on_commit_callbacks):
    CompanyFactory(contact_email="boss@jia.example.com")
    _remind(_survey(), "d7", django_capture_on_commit_callbacks)
    row = OutboxMessage.objects.get()
    url = mail.unsubscribe_url(row.pk, "en")
    response = client.get("/" + url.split("://", 1)[1].split("/", 1)[1])
    html = response.content.decode()
    assert response.status_code == 200
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    assert main.count("<button") == 1 and 'method="post"' in main
    assert "survey reminders" in html
    assert MailOptOut.objects.count() == 0
    bad = client.get("/mail/unsubscribe/forged:token/")
    assert bad.status_code == 400
    assert client.post("/mail/unsubscribe/forged:token/").status_code == 400
    assert MailOptOut.objects.count() == 0


def _send_queries(callbacks) -> int:
    """Run the send callbacks; the queries they make besides the one "sent" mark per mail
    (made right after the server accepts it, from a second connection on PostgreSQL outside
    a transaction): these grow with batches, not recipients."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        for callback in callbacks:
            callback()
    marks = [q for q in queries.captured_queries if "SET status = 'sent', sent_at" in q["sql"]]
    assert len(marks) == OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT).count()
    return len(queries.captured_queries) - len(marks)


def test_survey_reminders_take_the_bulk_path_and_go_once(
    mailoutbox, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    CompanyFactory.create_batch(200)
    survey = _survey()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with django_assert_max_num_queries(20):
            assert survey_services.reminders_send(survey=survey, step="d7") == 200
    assert len(app_callbacks(callbacks)) == 2  # chunks of 100 for the mail queue, after commit
    assert _send_queries(callbacks) <= 30
    assert len(mailoutbox) == 200
    assert _remind(survey, "d7", django_capture_on_commit_callbacks) == 0  # the ledger
    assert len(mailoutbox) == 200
    assert OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT).count() == 200


def test_dues_reminders_take_the_bulk_path_and_go_once(
    mailoutbox, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    for company in CompanyFactory.create_batch(200):
        FeeFactory(company=company, due_date=datetime.date(2020, 3, 31))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with django_assert_max_num_queries(40):
            assert member_services.fee_reminders_send(today=datetime.date(2020, 3, 5)) == 200
    assert mailoutbox == []  # nothing is sent inside the beat task
    assert callbacks
    assert _send_queries(callbacks) <= 30
    assert len(mailoutbox) == 200
    assert all("List-Unsubscribe" in _parts(m)[0] for m in mailoutbox[:3])
    assert _dues(datetime.date(2020, 3, 6), django_capture_on_commit_callbacks) == 0
    assert len(mailoutbox) == 200


def test_course_mails_carry_the_session_calendar(mailoutbox, django_capture_on_commit_callbacks):
    from courses import services as course_services

    start = timezone.now() + timedelta(minutes=55)
    session = SessionFactory(starts_at=start, ends_at=start + timedelta(hours=1))
    registration = RegistrationFactory(session=session, language="en")
    with django_capture_on_commit_callbacks(execute=True):
        course_services.reminders_sweep()
    [sent] = mailoutbox
    parsed, text, html, attachments = _parts(sent)
    [ics] = attachments
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == "PUBLISH"
    assert ics.get_filename().endswith(".ics")
    calendar = Calendar.from_ical(ics.get_content())
    [event] = list(calendar.walk("VEVENT"))
    assert str(event["summary"]) == session.title_en
    assert session.join_url in str(event["description"])  # confirmed: with the join link
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"Dear {registration.name}," in text and f"Dear {registration.name}," in html
    assert session.join_url in html


def test_confirmation_has_the_calendar_and_no_unsubscribe(
    mailoutbox, django_capture_on_commit_callbacks
):
    from courses import mails

    session = SessionFactory()
    registration = RegistrationFactory(session=session, status=Registration.Status.CONFIRMED)
    with django_capture_on_commit_callbacks(execute=True):
        services.outbox_enqueue(**mails.confirmed(registration, session))
    parsed, _text, _html, attachments = _parts(mailoutbox[-1])
    assert [a.get_content_type() for a in attachments] == ["text/calendar"]
    assert "List-Unsubscribe" not in parsed
