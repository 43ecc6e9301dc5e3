"""Course mails: in the registrant's language with the From name in it; links open in it in a
fresh browser; a title that would break the subject is refused before anything is written."""

import pytest

from courses.models import Registration
from cqa_portal.core.models import OutboxMessage
from tests.mails import assert_chinese, assert_english, assert_opens_in_english, links, path_of

from .factories import SessionFactory

pytestmark = pytest.mark.django_db

VISITOR = {
    "name": "Chen Zhiliang",
    "email": "chen@example.com",
    "organisation": "Example Manufacturing",
    "privacy_consent": "on",
}


def test_english_registrant_gets_english_mails_whose_links_open_in_english(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    session = SessionFactory()
    client.cookies["django_language"] = "en"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/courses/{session.pk}/register/", VISITOR)
    registration = Registration.objects.get()
    assert registration.language == "en"
    (request_mail,) = mailoutbox
    # The platform is typed by staff in Chinese only (no English field yet).
    assert_english(request_mail, prefix=False, names=[session.platform])
    assert OutboxMessage.objects.get().language == "en"

    confirm = path_of(request_mail, "/courses/confirm/")
    assert confirm.endswith("?lang=en")
    with django_capture_on_commit_callbacks(execute=True):
        html = assert_opens_in_english(client, confirm)
        assert session.title_en in html and "Confirm my registration" in html
        assert "registration is confirmed" in client.post(confirm).content.decode()

    confirmed_mail = mailoutbox[1]
    assert_english(confirmed_mail, prefix=False, names=[session.platform])
    cancel = next(
        url
        for url in links(confirmed_mail)
        if url.startswith("/courses/registration/") and ".ics" not in url
    )
    assert cancel.endswith("?lang=en")
    assert_opens_in_english(client, cancel)
    assert Registration.objects.get().status == Registration.Status.CONFIRMED  # GET cancels nothing


def test_chinese_registrant_gets_chinese_mail(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    session = SessionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/courses/{session.pk}/register/", VISITOR)
    assert_chinese(mailoutbox[0], prefix=False)
    assert path_of(mailoutbox[0], "/courses/confirm/").endswith("?lang=zh-hans")


def test_title_that_breaks_the_subject_is_refused_and_nothing_written(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    session = SessionFactory(title="质量工具\r\nBcc: victim@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/courses/{session.pk}/register/", VISITOR, follow=True)
    assert response.status_code == 200
    assert "换行符" in response.content.decode()
    assert not Registration.objects.exists()
    assert not OutboxMessage.objects.exists()
    assert mailoutbox == []
