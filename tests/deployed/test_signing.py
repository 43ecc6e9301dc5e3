"""Journey 1: a visitor signs the initiative as an individual and as an enterprise, confirms from
the mail, sees the count and the wall change, and withdraws with the mail's link."""

import secrets

import pytest

from .harness import zh

pytestmark = pytest.mark.browser

LETTER = "/open-letter/"
SIGN = "/initiatives/2020-quality-initiative/sign/"
WALL = "/initiatives/2020-quality-initiative/signatures/"


def _counts(person) -> dict:
    person.goto(LETTER)
    page = person.page
    return {
        key: int(page.inner_text(f"#count-{key}"))
        for key in ("total", "enterprises", "individuals")
    }


def _wait_counts(person, expected: dict, *, timeout: float = 5) -> dict:
    """Other gunicorn workers see a change within a second (pages.VERSION_TTL)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        counts = _counts(person)
        if counts == expected or time.monotonic() > deadline:
            return counts
        time.sleep(0.5)


@pytest.mark.parametrize("kind", ["individual", "enterprise"])
def test_sign_confirm_withdraw(kind, visitor, mailbox):
    person = visitor(f"signer-{kind}")
    page = person.page
    address = f"signer-{kind}-{secrets.token_hex(4)}@example.net"
    name = f"测试{secrets.token_hex(3)}"
    before = _counts(person)
    # The sign page has the letter's forms and is never page-cached, so this journey does not
    # depend on the page cache's token (test_open_letter_load.py covers the letter's forms).
    person.goto(SIGN)
    prefix = kind[:3]
    form = f"form#sign-{kind}"
    if kind == "enterprise":
        page.fill(f"{form} [name=ent-organisation]", name + "有限公司")
        page.fill(f"{form} [name=ent-name]", "李华")
        page.fill(f"{form} [name=ent-title]", "质量总监")
        shown = name + "有限公司"
    else:
        page.fill(f"{form} [name=ind-name]", name)
        page.fill(f"{form} [name=ind-organisation]", "某质量咨询公司")
        shown = name
    page.select_option(f"{form} [name={prefix}-province]", "42")
    page.fill(f"{form} [name={prefix}-email]", address)
    page.check(f"{form} [name={prefix}-show_name]")
    page.check(f"{form} [name={prefix}-privacy_consent]")
    person.submit(f"{form} button[type=submit]")
    assert "/sign/thanks/" in page.url
    assert page.inner_text("h1") == zh("Please confirm your signature")
    assert _counts(person) == before, "an unconfirmed signature must not count"

    # The mailbox fetches every link of the mail at once, as a scanner would: that confirms
    # nothing; the signer opens the link and presses the one button.
    mail = mailbox.wait(address, zh("Please confirm your signature"))
    assert name in mail.text
    assert _counts(person) == before, "opening the links must not confirm"
    mailbox.open(person, mail, "/signatures/confirm/")
    assert page.inner_text("h1") == zh("Confirm your signature")
    person.submit("#confirm-button")
    assert page.inner_text("h1") == zh("Signature confirmed")

    plural = "enterprises" if kind == "enterprise" else "individuals"
    expected = {**before, "total": before["total"] + 1, plural: before[plural] + 1}
    assert _wait_counts(person, expected) == expected
    person.goto(WALL)
    assert shown in page.inner_text("#signature-wall")

    mailbox.open(person, mail, "/signatures/withdraw/")
    assert page.inner_text("h1") == zh("Withdraw your signature")
    person.submit("main form button[type=submit]")
    assert page.inner_text("h1") == zh("Signature withdrawn")
    assert _wait_counts(person, before) == before
    person.goto(WALL)
    assert shown not in page.inner_text("main")
