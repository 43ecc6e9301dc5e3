import pytest
from django.test import override_settings

PUBLIC_PAGES = [
    "/",
    "/privacy/",
    "/open-letter/",
    "/alliance/",
    "/courses/",
    "/surveys/findings/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_page_renders_in_chinese_by_default(client, path):
    # A browser asking for English still gets Chinese until the visitor chooses English.
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-Hans">' in html
    assert "中国质量协会" in html
    assert "隐私声明" in html  # footer link


@pytest.mark.django_db
@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_page_renders_in_english_when_chosen(client, path):
    client.cookies["django_language"] = "en"
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "China Association for Quality" in html
    assert "Privacy notice" in html


@pytest.mark.django_db
def test_language_switcher_sets_english(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/privacy/"})
    assert response.status_code == 302
    assert response["Location"] == "/privacy/"
    assert "Who is responsible" in client.get("/privacy/").content.decode()


@pytest.mark.django_db
def test_home_links_every_section(client):
    html = client.get("/").content.decode()
    for href in ["/open-letter/", "/alliance/", "/courses/", "/surveys/findings/", "/members/"]:
        assert f'href="{href}"' in html


@pytest.mark.django_db
def test_privacy_notice_covers_what_pipl_expects(client):
    html = client.get("/privacy/").content.decode()
    for heading in ["我们收集什么、为什么收集", "保存多久", "您的权利", "联系方式"]:
        assert heading in html


@pytest.mark.django_db
def test_icp_number_shown_only_when_set(client):
    assert "beian.miit.gov.cn" not in client.get("/").content.decode()
    with override_settings(ICP_FILING_NUMBER="京ICP备12345678号"):
        html = client.get("/").content.decode()
    assert 'href="https://beian.miit.gov.cn/"' in html
    assert "京ICP备12345678号" in html


@pytest.mark.django_db
def test_unknown_page_is_a_chinese_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()


@pytest.mark.django_db
def test_robots_txt_keeps_crawlers_out_of_private_areas(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/robots.txt")
    assert response["Content-Type"] == "text/plain"
    assert "Disallow: /members/" in response.content.decode()
