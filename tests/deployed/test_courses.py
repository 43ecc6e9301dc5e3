"""Journey 2: a visitor filters the schedule, registers for a session, confirms from the mail,
downloads the .ics and cancels; with the session full, a second visitor is put on the waiting
list and the first one's cancellation gives them the seat, with a mail."""

import re
import secrets

import pytest

from .harness import STAFF, admin_save, zh

pytestmark = pytest.mark.browser

MANAGE = r"^.*/courses/registration/[^/]+/$"
TITLE = "精益现场改善实战"  # courses/demo.py "u03": 200 seats, nobody registered


def _register(person, mailbox, session_path: str, who: str) -> tuple[str, object]:
    page = person.page
    address = f"{who}-{secrets.token_hex(4)}@example.net"
    person.goto(session_path)
    page.fill("[name=name]", f"学员{who}")
    page.fill("[name=email]", address)
    page.fill("[name=organisation]", "示例制造有限公司")
    page.check("[name=privacy_consent]")
    person.submit("form[action$='/register/'] button[type=submit]")
    subject = zh("Please confirm your registration: %(title)s") % {"title": TITLE}
    # The mailbox fetches every link of the mail at once, as a scanner would: that confirms
    # nothing; the visitor opens the link and presses the one button.
    mail = mailbox.wait(address, subject)
    mailbox.open(person, mail, "/courses/confirm/")
    assert page.inner_text("h1") == zh("Registration confirmation")
    person.submit("#confirm-button")
    assert page.inner_text("h1") == zh("Registration confirmation")
    assert page.locator("#confirm-button").count() == 0
    return address, mail


def test_register_confirm_ics_cancel_and_waiting_list(visitor, mailbox):
    first = visitor("course visitor 1")
    page = first.page
    first.goto("/courses/")
    first.page.select_option("#id_topic", "on-site")
    with page.expect_navigation():
        page.click("form[method=get] button[type=submit]")
    first.checked()
    assert "topic=on-site" in page.url
    upcoming = page.inner_text("#upcoming-list")
    assert TITLE in upcoming
    assert "实验设计（DOE）入门工作坊" not in upcoming  # another topic
    session_path = page.get_attribute(f"#upcoming-list a:has-text('{TITLE}')", "href")
    pk = re.search(r"/courses/(\d+)/", session_path).group(1)

    staff = visitor("staff")
    staff.login(*STAFF)
    admin_save(staff, f"/admin/courses/session/{pk}/change/", {"capacity": "1"})

    first_address, _mail = _register(first, mailbox, session_path, "first")
    confirmed = mailbox.wait(
        first_address, zh("Registration confirmed: %(title)s") % {"title": TITLE}
    )
    ics_url = confirmed.link("/calendar.ics")
    ics = first.context.request.get(ics_url)
    assert ics.status == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.text() and TITLE in ics.text()

    second = visitor("course visitor 2")
    second_address, _mail = _register(second, mailbox, session_path, "second")
    mailbox.wait(second_address, zh("On the waiting list: %(title)s") % {"title": TITLE})

    first.goto(confirmed.link(MANAGE))
    assert page.inner_text("h1") == zh("Your course registration")
    first.submit("#cancel-button")
    assert zh("Your registration is cancelled.") in page.inner_text("main")
    mailbox.wait(first_address, zh("Registration cancelled: %(title)s") % {"title": TITLE})

    promoted = mailbox.wait(second_address, zh("You have a seat: %(title)s") % {"title": TITLE})
    second.goto(promoted.link(MANAGE))
    assert zh("Cancel my registration") in second.page.inner_text("main")
