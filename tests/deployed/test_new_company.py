"""Journey 4: a new company signs up, verifies its address from the mail, applies for
membership; staff approve the application on the admin's Decide page; the applicant gets the
decision mail, invites a colleague from the company's users page, and the colleague signs up
from the invitation mail, verifies and joins: the users list then shows both."""

import random
import secrets

import pytest

from cqa_portal.core.validators import USCC_ALPHABET, uscc_check_char

from .harness import STAFF, zh

pytestmark = pytest.mark.browser

PASSWORD = "Zhiliang-2020-fugong"
CONFIRM = "/accounts/confirm-email/"
INVITATION = "/members/invitations/"


def _new_uscc() -> str:
    """A valid unified social credit code nobody has (Hubei, random body)."""
    body = "9142" + "0100" + "".join(random.choices(USCC_ALPHABET, k=9))  # noqa: S311
    return body + uscc_check_char(body + "0")


def _sign_up_and_verify(person, mailbox, *, email: str, name: str) -> None:
    """From the signup page the visitor is on: the form, the mail, the confirmation."""
    page = person.page
    page.fill("[name=email]", email)
    page.fill("[name=name]", name)
    page.fill("[name=password1]", PASSWORD)
    page.fill("[name=password2]", PASSWORD)
    page.check("[name=privacy_consent]")
    person.submit("form[action$='/accounts/signup/'] button[type=submit]")
    assert "/accounts/confirm-email/" in page.url, page.url  # "check your mail"
    mail = mailbox.wait(email, zh("Please Confirm Your Email Address"), opens=(CONFIRM,))
    mailbox.open(person, mail, CONFIRM)
    person.submit(f"form[action*='{CONFIRM}'] button[type=submit]")


def test_company_signs_up_applies_is_approved_and_invites_a_colleague(visitor, mailbox):
    token = secrets.token_hex(4)
    admin_email = f"zhang-{token}@newco.example.net"
    colleague_email = f"li-{token}@newco.example.net"
    company = f"武汉复工精工科技有限公司{token}"

    applicant = visitor("applicant")
    page = applicant.page
    applicant.goto("/accounts/signup/")
    _sign_up_and_verify(applicant, mailbox, email=admin_email, name="张伟")
    applicant.goto("/members/")  # logged in by the confirmation, no company yet
    assert zh("Your account is not linked to a member company yet.") in page.inner_text("main")
    with page.expect_navigation():
        page.click("main a[href$='/members/apply/']")
    applicant.checked()
    page.fill("[name=name]", company)
    page.fill("[name=uscc]", _new_uscc())
    page.select_option("[name=province]", "42")
    page.select_option("[name=industry_section]", "C")
    page.fill("[name=industry_division]", "通用设备制造业")
    page.select_option("[name=size_band]", "small")
    page.select_option("[name=level]", label="会员单位")  # members/demo: the ordinary level
    page.fill("[name=address]", "湖北省武汉市江夏区复工路 8 号")
    page.fill("[name=postal_code]", "430200")
    page.fill("[name=contact_name]", "张伟")
    page.fill("[name=contact_phone]", "027-81234567")
    page.fill("[name=contact_email]", admin_email)
    page.fill("[name=message]", "我公司已于 3 月底全面复工，申请加入协会。")
    page.check("[name=privacy_consent]")
    applicant.submit("main form button[type=submit]")
    assert page.url.endswith("/members/"), page.url
    main = page.inner_text("main")
    assert zh("Thank you. Your application has been sent; we will email you the decision.") in main
    assert company in main  # "your application for ... is being reviewed"

    staff = visitor("staff")
    staff.login(*STAFF)
    staff.goto(f"/admin/members/membershipapplication/?q={token}")
    row = staff.page.locator("#result_list tbody tr", has_text=company)
    assert row.count() == 1
    with staff.page.expect_navigation():
        row.locator("a[href$='/decide/']").click()
    staff.checked()
    staff.page.check("input[name=approve][value='1']")
    staff.page.fill("[name=note]", "欢迎加入中国质量协会。")
    staff.submit("input[type=submit]")
    assert zh("The decision has been recorded and the applicant emailed.") in (
        staff.page.inner_text(".messagelist")
    )
    staff.goto(f"/admin/members/membercompany/?q={token}")
    assert zh("Active") in staff.page.inner_text("#result_list")

    decision = mailbox.wait(admin_email, zh("Your membership application has been approved"))
    assert company in decision.text and "欢迎加入中国质量协会。" in decision.text
    applicant.goto(decision.link("/members/"))
    assert company in page.inner_text("main")

    applicant.goto("/members/users/")
    page.fill("[name=email]", colleague_email)
    applicant.submit("main form:has([name=email]) button[type=submit]")
    assert zh("An invitation has been sent to %(email)s.") % {
        "email": colleague_email
    } in page.inner_text("main")
    invitation = mailbox.wait(
        colleague_email,
        zh("You are invited to join %(company)s in the member area") % {"company": company},
        opens=(INVITATION,),
    )

    colleague = visitor("colleague")
    mailbox.open(colleague, invitation, INVITATION)
    assert company in colleague.page.inner_text("h1")
    with colleague.page.expect_navigation():
        colleague.page.click("main a[href*='/accounts/signup/']")
    colleague.checked()
    _sign_up_and_verify(colleague, mailbox, email=colleague_email, name="李娜")
    # Signed up from the invitation: the confirmation logs in and leads back to it.
    # (the mailed link carries ?lang=; the page it leads back to is the same invitation)
    back = invitation.link(INVITATION).split("?", 1)[0]
    assert colleague.page.url.split("?", 1)[0] == back, colleague.page.url
    colleague.submit("main form button[type=submit]")  # accept
    assert colleague.page.url.endswith("/members/"), colleague.page.url
    assert zh("Welcome! You now have access to %(company)s in the member area.") % {
        "company": company
    } in colleague.page.inner_text("main")

    applicant.goto("/members/users/")
    users = page.inner_text("main table")
    assert admin_email in users and colleague_email in users
    assert zh("Company administrator") in users and zh("Colleague") in users
    assert zh("Invitations not yet accepted") not in page.inner_text("main")
