"""Journey 6, in English (set with the site's language switcher): an organisation applies to
co-sign the alliance's initiative, staff approve it in the admin, and it is listed."""

import secrets

import pytest

from .harness import STAFF

pytestmark = pytest.mark.browser


def test_organisation_cosigns_in_english_and_staff_approve(visitor, mailbox):
    person = visitor("co-signer (English)")
    page = person.page
    person.goto("/alliance/")
    person.set_language("en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Member associations" in page.inner_text("main")

    name = f"Quality Test Association {secrets.token_hex(3)}"
    address = f"cosign-{secrets.token_hex(4)}@example.net"
    person.goto("/alliance/co-sign/")
    form = "#cosign-form"
    page.fill(f"{form} [name=organisation]", name)
    page.select_option(f"{form} [name=organisation_type]", "association")
    page.select_option(f"{form} [name=province]", "44")
    page.fill(f"{form} [name=contact_name]", "Chen Jing")
    page.fill(f"{form} [name=contact_title]", "Secretary-general")
    page.fill(f"{form} [name=contact_email]", address)
    page.fill(f"{form} [name=contact_phone]", "020-12345678")
    page.check(f"{form} [name=privacy_consent]")
    person.submit(f"{form} button[type=submit]")
    assert "/alliance/co-sign/thanks/" in page.url
    mailbox.wait(address, "We have received your application to co-sign")
    person.goto("/alliance/")
    assert name not in page.inner_text("main"), "listed before staff approved"

    staff = visitor("staff")
    staff.login(*STAFF)
    staff.goto("/admin/pledges/cosignature/?q=" + name.split()[-1])
    staff.page.check("input[name=_selected_action]")
    staff.page.select_option("select[name=action]", "approve")
    staff.submit("button[name=index]")
    assert staff.page.locator(".messagelist .success").count() == 1

    mailbox.wait(address, "Your co-signature has been approved")
    person.goto("/alliance/")
    assert name in page.inner_text("#cosigners")
