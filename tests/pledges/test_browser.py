"""A visitor signs the initiative in a real browser and confirms it from the captured email."""

import re

import pytest

from .factories import CommitmentFactory, InitiativeItemFactory, LetterFactory

pytestmark = pytest.mark.browser


@pytest.mark.django_db(transaction=True)
def test_sign_confirm_from_email_and_see_the_count(page, live_server, mailoutbox, settings):
    settings.SITE_URL = live_server.url
    letter = LetterFactory(slug="2020-letter", title="致全体会员的公开信")
    CommitmentFactory(letter=letter, text="把质量安全放在首位")
    InitiativeItemFactory(initiative=letter.initiative, text="安全第一，不忘发展")

    page.goto(live_server.url + "/open-letter/")
    assert page.get_by_role("heading", level=1).inner_text() == "致全体会员的公开信"
    assert page.locator("#count-total").inner_text() == "0"

    form = page.locator("#sign-individual")
    form.get_by_label("您的姓名").fill("张质量")
    form.get_by_label("工作单位").fill("某市质量检验所")
    form.get_by_label("省份").select_option("42")
    form.get_by_label("电子邮箱").fill("zhang@example.com")
    form.get_by_label("在公开的签名名单中显示我的姓名").check()
    form.locator("input[name=ind-privacy_consent]").check()
    form.get_by_role("button", name="签名").click()
    page.wait_for_load_state()
    assert "请确认您的签名" in page.get_by_role("heading", level=1).inner_text()

    assert len(mailoutbox) == 1
    link = re.search(r"https?://\S+/signatures/confirm/\S+/", mailoutbox[0].body).group(0)
    page.goto(link)  # one button: opening the link confirms nothing
    assert page.get_by_role("heading", level=1).inner_text() == "确认您的签名"
    page.get_by_role("button", name="确认签名").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "签名已确认"

    page.goto(live_server.url + "/open-letter/")
    assert page.locator("#count-total").inner_text() == "1"
    assert page.locator("#count-individuals").inner_text() == "1"
    assert "张质量" in page.locator("#latest-signatures").inner_text()
