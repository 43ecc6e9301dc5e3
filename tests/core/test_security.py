import pytest
from django.db import OperationalError

from tests.factories import UserFactory


@pytest.mark.django_db
def test_security_headers_on_every_page(client):
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


@pytest.mark.django_db
def test_pages_have_no_inline_script(client):
    for path in ["/", "/privacy/", "/accounts/login/", "/accounts/signup/"]:
        html = client.get(path).content.decode()
        assert "<script>" not in html
        assert all("src=" in tag for tag in html.split("<script")[1:])


@pytest.mark.django_db
def test_database_outage_gives_a_clear_503_page(monkeypatch):
    from django.test import Client

    client = Client(raise_request_exception=False)  # as in production: handler500 answers
    client.force_login(UserFactory())

    def down(*args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr("members.views.get_membership", down)
    response = client.get("/members/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    html = response.content.decode()
    assert "服务暂时不可用" in html
    assert "Traceback" not in html and "OperationalError" not in html


@pytest.mark.django_db
def test_other_errors_give_a_plain_500_page(monkeypatch):
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(UserFactory())

    def broken(*args, **kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr("members.views.get_membership", broken)
    response = client.get("/members/")
    assert response.status_code == 500
    assert "Traceback" not in response.content.decode()
