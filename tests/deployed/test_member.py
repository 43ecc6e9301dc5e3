"""Journey 3: a member logs in, edits the company profile, saves a survey draft, submits and
edits it, files a fee-relief request with a PDF (after withdrawing the open one seed_demo
filed), and registers for a course in one click."""

import pytest

from .harness import MEMBER, zh

pytestmark = pytest.mark.browser

SURVEY = "/surveys/covid-impact-2020/"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"  # noqa: E501


def _answer_every_question(page) -> None:
    """The first choice of every visible question, a number where one is asked."""
    for question in page.locator(".survey-question:visible").all():
        for kind in ("radio", "checkbox"):
            choices = question.locator(f"input[type={kind}]")
            if choices.count():
                choices.first.check()
        number = question.locator("input[type=number]")
        if number.count():
            number.first.fill("60")


def test_member_profile_survey_relief_course(visitor, tmp_path):
    member = visitor("member")
    page = member.page
    member.login(*MEMBER)
    member.goto("/members/")
    assert page.locator("h1").count() == 1

    member.goto("/members/profile/")
    page.fill("#id_contact_phone", "027-88886666")
    member.submit("main form button[type=submit]")
    member.goto("/members/profile/")
    assert page.input_value("#id_contact_phone") == "027-88886666"

    member.goto(SURVEY)
    _answer_every_question(page)
    member.submit("button[name=draft]")
    assert zh("Draft saved. It is not submitted yet.") in page.inner_text("main")
    assert zh("Your company has a draft: it is not submitted yet.") in page.inner_text("main")
    _answer_every_question(page)
    member.submit("button[name=submit]")
    assert page.locator(".alert-success").count() >= 1
    member.goto(SURVEY)
    assert page.locator("button[name=submit]").count() == 0  # the answers, not the form
    with page.expect_navigation():
        page.click("a[href='?edit=1']")
    member.checked()
    page.fill("textarea", "复工后订单恢复较快。")
    member.submit("button[name=submit]")
    assert page.locator(".alert-success").count() >= 1

    member.goto("/members/")
    with page.expect_navigation():
        page.click("a[href*='/members/relief/']:not([href$='/new/'])")
    member.checked()
    if page.locator("form[action$='/withdraw/']").count():
        member.submit("form[action$='/withdraw/'] button")
    member.goto("/members/relief/new/")
    page.check("input[name=kind][value=waiver]")
    page.locator("input[name=reasons]").first.check()
    page.fill("#id_explanation", "停工两个月，复工后产能恢复约一半。")
    document = tmp_path / "停工证明.pdf"
    document.write_bytes(PDF)
    page.set_input_files("#id_documents", str(document))
    member.submit("button[name=submit]")
    assert "/members/relief/" in page.url
    assert zh("Your request has been submitted. We will email you the decision.") in (
        page.inner_text("main")
    )
    assert "停工证明.pdf" in page.inner_text("main")

    member.goto("/courses/")
    with page.expect_navigation():
        page.click("#upcoming-list a:has-text('质量文化建设与全员参与')")
    member.checked()
    member.submit("#register-button")
    assert zh("Cancel my registration") in page.inner_text("main")
