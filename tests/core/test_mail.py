"""One mail policy for the whole portal: a mail that cannot be built is refused before anything
is written; subjects and bodies are plain text; each mail is in its recipient's language
(subject prefix and From name included); links in mails open in that language."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation

from cqa_portal.core import mail, services
from cqa_portal.core.errors import PortalError
from cqa_portal.core.models import OutboxMessage
from tests.factories import UserFactory
from tests.mails import assert_chinese, assert_english, assert_opens_in_english

pytestmark = pytest.mark.django_db
User = get_user_model()


def _enqueue(**kwargs):
    values = {
        "key": "test.mail:a@example.com",
        "purpose": "test.mail",
        "to": "a@example.com",
        "subject": "主题",
        "body": "正文",
    }
    values.update(kwargs)
    return services.outbox_enqueue(**values)


@pytest.mark.parametrize(
    "subject",
    ["甲\r\nBcc: victim@example.com", "甲\n乙", "甲\r乙", "甲\x00乙", "甲\x1b乙", "甲\u2028乙"],
)
def test_subject_with_line_break_or_control_character_is_refused_and_nothing_written(subject):
    with pytest.raises(PortalError) as caught:
        _enqueue(subject=subject)
    assert caught.value.code == "mail_subject"
    with translation.override("en"):
        assert "line break or a control character" in str(caught.value.message)
    assert "换行符" in str(caught.value.message)
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize("to", ["not-an-address", "a@example.com\r\nBcc: b@example.com", ""])
def test_invalid_recipient_is_refused_and_nothing_written(to):
    with pytest.raises(PortalError) as caught:
        _enqueue(to=to)
    assert caught.value.code == "mail_recipient"
    assert not OutboxMessage.objects.exists()


def test_bulk_enqueue_refuses_the_whole_batch_if_one_mail_cannot_be_built():
    messages = [
        {"key": f"bulk:{n}", "purpose": "bulk", "to": f"u{n}@example.com", "subject": "s"}
        for n in range(3)
    ]
    messages[2]["subject"] = "bad\nsubject"
    for message in messages:
        message["body"] = "b"
    with pytest.raises(PortalError):
        services.outbox_enqueue_many(messages=messages, batch_size=2)
    assert not OutboxMessage.objects.exists()


def test_subject_whitespace_is_collapsed(mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = _enqueue(subject="  a   b\t c  ")
    assert message.subject == "a b c"
    assert mailoutbox[0].subject == "a b c"


def test_subject_is_plain_text_never_html_escaped(mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _enqueue(subject="甲&乙 <b>粗</b> “引号” 'x'", body="甲&乙 <b>")
    assert mailoutbox[0].subject == "甲&乙 <b>粗</b> “引号” 'x'"
    assert mailoutbox[0].body == "甲&乙 <b>"


def test_from_name_is_in_the_language_stored_with_the_mail(
    mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _enqueue(key="k1", language="en", subject="Hello", body="Hello")
        _enqueue(key="k2", language="zh-hans")
        with translation.override("en"):
            _enqueue(key="k3", subject="Active language", body="x")  # default: the active one
    assert [m.from_email for m in mailoutbox] == [
        "China Association for Quality <noreply@caq.example.org>",
        "中国质量协会 <noreply@caq.example.org>",
        "China Association for Quality <noreply@caq.example.org>",
    ]
    assert OutboxMessage.objects.get(key="k3").language == "en"


def test_with_language_adds_or_replaces_the_parameter():
    assert mail.with_language("https://x.org/a/?b=1", "en") == "https://x.org/a/?b=1&lang=en"
    assert mail.with_language("/a/?lang=zh-hans", "en") == "/a/?lang=en"
    assert mail.with_language("/a/", "fr") == "/a/"
    assert mail.with_language("/a/", "en-us") == "/a/?lang=en"


def test_render_text_does_not_escape(settings):
    text = mail.render_text("members/mail/invitation_subject.txt", {"company": {"name": "甲&乙"}})
    assert "甲&乙" in text and "&amp;" not in text


# --- accounts (allauth) -----------------------------------------------------------------------


def _signup(client, email):
    return client.post(
        "/accounts/signup/",
        {
            "email": email,
            "name": "Li Hua",
            "password1": "Quality-2020-strong",
            "password2": "Quality-2020-strong",
            "privacy_consent": "on",
        },
    )


def test_english_signup_gets_an_english_verification_mail_and_link(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    client.cookies["django_language"] = "en"
    with django_capture_on_commit_callbacks(execute=True):
        _signup(client, "english@example.com")
    user = User.objects.get(email="english@example.com")
    assert user.language == "en"
    (message,) = mailoutbox
    assert_english(message)
    assert OutboxMessage.objects.get(to=user.email).language == "en"
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", message.body).group(1)
    assert link.endswith("?lang=en")
    html = assert_opens_in_english(client, link)
    assert "Confirm" in html


def test_chinese_signup_gets_a_chinese_verification_mail(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _signup(client, "chinese@example.com")
    assert User.objects.get(email="chinese@example.com").language == "zh-hans"
    assert_chinese(mailoutbox[0])


def test_password_reset_mail_follows_the_account_language(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory(email="reset@example.com", language="en")
    # Asked for from a Chinese page: the mail is still in the account's language.
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password/reset/", {"email": user.email})
    assert_english(mailoutbox[0])
    assert "?lang=en" in mailoutbox[0].body


def test_switching_language_while_logged_in_is_remembered_for_mails(client):
    user = UserFactory(language="zh-hans")
    client.force_login(user)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.language == "en"
    client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    user.refresh_from_db()
    assert user.language == "en"


def test_logging_in_with_a_language_chosen_keeps_it(client):
    user = UserFactory(email="login@example.com", language="zh-hans")
    client.cookies["django_language"] = "en"
    client.post(
        "/accounts/login/", {"login": user.email, "password": "correct-horse-battery-staple"}
    )
    user.refresh_from_db()
    assert user.language == "en"


# --- the language parameter of links ------------------------------------------------------------


def test_lang_parameter_shows_the_page_in_english_and_sets_the_cookie(client):
    response = client.get("/privacy/?lang=en")
    assert response.status_code == 200
    assert response.cookies["django_language"].value == "en"
    assert '<html lang="en"' in response.content.decode()
    # The cookie keeps it for the next page.
    assert '<html lang="en"' in client.get("/").content.decode()


@pytest.mark.parametrize("value", ["fr", "xx-yy", "../en", "", "<en>"])
def test_unsupported_lang_parameter_is_ignored(client, value):
    response = client.get("/privacy/", {"lang": value})
    assert response.status_code == 200
    assert "django_language" not in response.cookies
    assert '<html lang="zh-Hans"' in response.content.decode()
