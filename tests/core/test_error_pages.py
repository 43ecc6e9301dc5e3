"""Error pages: the portal's layout, the visitor's language, nothing leaked (issue "The portal
as deployed", item 4)."""

import sys

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from tests.members.factories import MembershipFactory, ReliefFactory
from tests.pledges.factories import InitiativeFactory

SECRET = "s3cret-detail-of-the-error"
LEAKS = ["Traceback", SECRET, "OperationalError", "ZeroDivisionError", "DEBUG", "Django"]


def _layout(html: str) -> None:
    """The portal's layout: navigation, footer with the association's address."""
    assert 'class="portal-header"' in html
    assert 'class="portal-footer' in html
    assert "privacy" in html  # footer link to the privacy notice


def _nothing_leaked(html: str) -> None:
    for leak in [*LEAKS, str(settings.BASE_DIR), settings.SECRET_KEY]:
        assert leak not in html, leak


def _english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


# --- one request per status -----------------------------------------------------------------


def _400(client):
    return client.get(reverse("courses:schedule") + "?" + "&".join(["a=1"] * 1200))


def _403(client):
    membership = MembershipFactory(role="colleague")
    client.force_login(membership.user)
    return client.get(reverse("members:users"))


def _404(client):
    return client.get("/no-such-page/")


def _405(client):
    return client.get(reverse("members:relief_submit", kwargs={"pk": 1}))


def _429(client, monkeypatch):
    """The throttled pages (see the throttle module) render 429.html with the request."""
    from django.contrib.auth.models import AnonymousUser
    from django.shortcuts import render
    from django.test import RequestFactory
    from django.utils import translation

    request = RequestFactory().post("/alliance/co-sign/")
    request.user = AnonymousUser()
    language = client.cookies.get(settings.LANGUAGE_COOKIE_NAME)
    with translation.override(language.value if language else "zh-hans"):
        return render(request, "429.html", status=429)


def _raising(exc):
    def broken(*args, **kwargs):
        raise exc

    return broken


def _500(client, monkeypatch):
    client.force_login(MembershipFactory().user)
    monkeypatch.setattr("members.views.get_membership", _raising(ZeroDivisionError(SECRET)))
    return client.get(reverse("members:dashboard"))


def _503(client, monkeypatch):
    client.force_login(MembershipFactory().user)
    monkeypatch.setattr("members.views.get_membership", _raising(OperationalError(SECRET)))
    return client.get(reverse("members:dashboard"))


CASES = {
    400: (_400, "无法处理", "could not be read"),
    403: (_403, "没有权限", "do not have permission"),
    404: (_404, "页面不存在", "Page not found"),
    405: (_405, "按钮", "for a button"),
    429: (_429, "几分钟后再试", "Too many requests"),
    500: (_500, "服务暂时不可用", "Service temporarily unavailable"),
    503: (_503, "服务暂时不可用", "briefly unavailable"),
}


def _get(status, client, monkeypatch):
    make = CASES[status][0]
    return make(client, monkeypatch) if make.__code__.co_argcount == 2 else make(client)


@pytest.mark.django_db
@pytest.mark.parametrize("status", sorted(CASES))
def test_error_page_in_layout_in_chinese(status, monkeypatch):
    client = Client(raise_request_exception=False)  # as in production: the handlers answer
    response = _get(status, client, monkeypatch)
    assert response.status_code == status
    html = response.content.decode()
    _layout(html)
    _nothing_leaked(html)
    assert CASES[status][1] in html
    assert '<html lang="zh-Hans">' in html


@pytest.mark.django_db
@pytest.mark.parametrize("status", sorted(CASES))
def test_error_page_in_english_with_the_language_cookie(status, monkeypatch):
    client = _english(Client(raise_request_exception=False))
    response = _get(status, client, monkeypatch)
    assert response.status_code == status
    html = response.content.decode()
    _layout(html)
    _nothing_leaked(html)
    assert CASES[status][2] in html
    assert '<html lang="en">' in html


@pytest.mark.django_db
def test_too_many_form_fields_in_a_post_give_the_400_page():
    initiative = InitiativeFactory(accepts_signatures=True)
    data = "&".join(["a=1"] * 1200)
    response = Client(raise_request_exception=False).post(
        reverse("pledges:sign", kwargs={"slug": initiative.slug}),
        data,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    _layout(response.content.decode())


@pytest.mark.django_db
def test_upload_with_a_file_name_over_the_header_limit_gives_the_400_page():
    """Django refuses a part header over 1 KiB (MultiPartParserError). The test client's own
    files cut names to 255 characters, so the body is written by hand, as a browser sends it."""
    membership = MembershipFactory()
    client = Client(raise_request_exception=False)
    client.force_login(membership.user)
    boundary = "----portal-test-boundary"
    name = "报告" * 600 + ".pdf"
    body = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="documents"; filename="{name}"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.4 x\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    response = client.post(
        reverse("members:relief_new"),
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 400
    html = response.content.decode()
    _layout(html)
    _nothing_leaked(html)
    assert "无法处理" in html and "报告报告" not in html


@pytest.mark.django_db
def test_403_page_does_not_show_the_exception_message(rf, monkeypatch):
    from cqa_portal.core.views import permission_denied

    request = rf.get("/")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    response = permission_denied(request, PermissionDenied(SECRET))
    assert response.status_code == 403
    assert SECRET not in response.content.decode()


def test_405_keeps_the_allow_header_and_links_the_page_with_the_button(client, db):
    response = client.get(reverse("members:relief_submit", kwargs={"pk": 7}))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert (
        f'href="{reverse("members:relief_detail", kwargs={"pk": 7})}"' in response.content.decode()
    )


def test_405_for_a_method_a_form_page_does_not_take(client, db):
    initiative = InitiativeFactory(accepts_signatures=True)
    url = reverse("pledges:sign", kwargs={"slug": initiative.slug})
    response = client.put(url)
    assert response.status_code == 405
    assert set(response["Allow"].split(", ")) == {"GET", "POST"}
    assert f'href="{url}"' in response.content.decode()


# --- 500 and 503 without the database -------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("exc", "status"), [(OperationalError(SECRET), 503), (ZeroDivisionError(SECRET), 500)]
)
def test_server_error_pages_render_without_the_database(exc, status, rf, django_assert_num_queries):
    from cqa_portal.core.views import server_error

    try:
        raise exc
    except type(exc):
        assert sys.exc_info()[1] is exc
        with django_assert_num_queries(0):
            response = server_error(rf.get("/members/"))
    assert response.status_code == status
    html = response.content.decode()
    _layout(html)
    _nothing_leaked(html)


def test_server_error_page_falls_back_to_a_bare_page_when_the_layout_fails(rf, monkeypatch):
    from cqa_portal.core import views

    real = views.render_to_string if hasattr(views, "render_to_string") else None
    assert real is None  # the view imports it lazily; patch the loader instead
    from django.template import loader

    original = loader.render_to_string

    def failing(template_name, context=None, *args, **kwargs):
        if template_name in {"500.html", "503.html"}:
            raise RuntimeError(SECRET)
        return original(template_name, context, *args, **kwargs)

    monkeypatch.setattr(loader, "render_to_string", failing)
    response = views.server_error(rf.get("/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "服务暂时不可用" in html
    assert SECRET not in html


# --- CSRF failure ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_post_without_csrf_token_gives_the_expired_form_page_with_a_link_back():
    initiative = InitiativeFactory(accepts_signatures=True)
    form_url = reverse("pledges:sign", kwargs={"slug": initiative.slug})
    client = Client(enforce_csrf_checks=True)
    response = client.post(form_url, {"kind": "individual"})
    assert response.status_code == 403
    html = response.content.decode()
    _layout(html)
    _nothing_leaked(html)
    assert "表单已过期" in html
    assert "DEBUG" not in html and "CSRF" not in html
    assert f'href="{form_url}"' in html


@pytest.mark.django_db
def test_csrf_page_links_the_same_site_referer_and_not_another_site():
    initiative = InitiativeFactory(accepts_signatures=True)
    client = Client(enforce_csrf_checks=True)
    url = reverse("pledges:sign_company", kwargs={"slug": initiative.slug})
    response = client.post(url, HTTP_REFERER="http://testserver/alliance/?x=1")
    assert 'href="/alliance/?x=1"' in response.content.decode()
    response = client.post(url, HTTP_REFERER="https://evil.example.com/phish/")
    html = response.content.decode()
    assert "evil.example.com" not in html
    # No usable Referer: the page the POST-only view declares.
    assert f'href="{reverse("pledges:sign", kwargs={"slug": initiative.slug})}"' in html


@pytest.mark.django_db
def test_csrf_page_in_english():
    client = _english(Client(enforce_csrf_checks=True))
    response = client.post(reverse("members:apply"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "The form has expired" in html
    assert f'href="{reverse("members:apply")}"' in html


# --- B: logging in from a POST-only button lands on the page holding the button --------------


def _relief_case(kind):
    def make():
        membership = MembershipFactory()
        relief = ReliefFactory(company=membership.company)
        return membership.user, reverse(f"members:{kind}", kwargs={"pk": relief.pk})

    return make


def _members_case(name, make_pk):
    def make():
        membership = MembershipFactory()
        return membership.user, reverse(f"members:{name}", kwargs={"pk": make_pk(membership)})

    return make


def _invitation(membership):
    from members.models import Invitation

    return Invitation.objects.create(company=membership.company, email="x@example.com").pk


def _pledges_case(name):
    def make():
        initiative = InitiativeFactory(accepts_signatures=True)
        return MembershipFactory().user, reverse(
            f"pledges:{name}", kwargs={"slug": initiative.slug}
        )

    return make


def _course_case():
    from tests.courses.factories import SessionFactory

    return MembershipFactory().user, reverse(
        "courses:cancel_own", kwargs={"pk": SessionFactory().pk}
    )


def _survey_case():
    from tests.factories import StaffFactory
    from tests.surveys.factories import covid_survey

    survey = covid_survey()
    return StaffFactory(), reverse("surveys:staff_refresh", kwargs={"slug": survey.slug})


POST_ONLY = {
    "members:user_remove": _members_case(
        "user_remove", lambda m: MembershipFactory(company=m.company).pk
    ),
    "members:invitation_revoke": _members_case("invitation_revoke", _invitation),
    "members:relief_submit": _relief_case("relief_submit"),
    "members:relief_withdraw": _relief_case("relief_withdraw"),
    "pledges:sign_company": _pledges_case("sign_company"),
    "pledges:withdraw_company": _pledges_case("withdraw_company"),
    "courses:cancel_own": _course_case,
    "surveys:staff_refresh": _survey_case,
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(POST_ONLY))
def test_anonymous_post_logs_in_then_lands_on_the_page_with_the_button(name, client):
    from urllib.parse import parse_qs, urlsplit

    user, url = POST_ONLY[name]()
    response = client.post(url)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path in {reverse("account_login"), reverse("admin:login")}
    target = parse_qs(location.query)["next"][0]
    assert target != url and target.startswith("/")
    client.force_login(user)
    assert client.get(target).status_code == 200


@pytest.mark.django_db
def test_anonymous_post_with_a_same_site_referer_lands_on_that_page(client):
    from urllib.parse import parse_qs, urlsplit

    initiative = InitiativeFactory(accepts_signatures=True)
    url = reverse("pledges:sign_company", kwargs={"slug": initiative.slug})
    response = client.post(url, HTTP_REFERER="http://testserver/alliance/")
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == ["/alliance/"]
    response = client.post(url, HTTP_REFERER="https://evil.example.com/alliance/")
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == [
        reverse("pledges:sign", kwargs={"slug": initiative.slug})
    ]


@pytest.mark.django_db
def test_real_login_after_a_post_only_button_lands_on_the_relief_page(client):
    from tests.factories import PASSWORD

    membership = MembershipFactory()
    relief = ReliefFactory(company=membership.company)
    response = client.post(reverse("members:relief_withdraw", kwargs={"pk": relief.pk}))
    response = client.post(
        response["Location"], {"login": membership.user.email, "password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse(
        "members:relief_detail", kwargs={"pk": relief.pk}
    )


@pytest.mark.django_db
def test_anonymous_get_of_a_page_still_comes_back_to_it(client):
    response = client.get(reverse("members:dashboard") + "?tab=1")
    assert response.status_code == 302
    assert "next=/members/%3Ftab%3D1" in response["Location"]


def test_no_app_uses_django_require_post_directly():
    """One way: POST-only views use core's post_only, which names the page with the button."""
    from pathlib import Path

    root = Path(settings.BASE_DIR)
    for app in ("members", "pledges", "courses", "surveys"):
        for path in (root / app).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            assert "require_POST" not in source, path
            assert "django.contrib.auth.decorators import login_required" not in source, path
