import pytest

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.browser


@pytest.mark.django_db(transaction=True)
def test_home_switch_language_and_log_in(page, live_server):
    user = UserFactory(email="browser@example.com")
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.get_by_role("heading", level=1).inner_text() == "与会员企业共克时艰"

    page.select_option("#language-select", "en")
    page.click("#language-submit")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Standing with member enterprises" in page.get_by_role("heading", level=1).inner_text()

    page.click("text=Log in")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_load_state()
    assert page.url == live_server.url + "/"
    assert user.email in page.locator("header").inner_text()
