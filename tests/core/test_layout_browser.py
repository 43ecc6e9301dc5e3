"""The portal in a real browser, on the demo data: every main page fits a 390 px phone without
horizontal scrolling, axe-core finds no serious or critical violation, the English header is
one line at 1280 px, the menu works without JavaScript, and a failed form moves the focus to
its error summary.

One browser for the module's tests; pages are loaded once per (user, language) pass.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from conftest import AXE_PATH
from cqa_portal.core import demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
LANGUAGES = ["zh-hans", "en"]

OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


def _seed():
    """seed_demo on what the migrations install. A transactional test's flush empties the tables
    the data migrations filled (membership levels, relief reasons, the impact survey), so they
    are run again here (they are idempotent). Not serialized_rollback: its reload collides with
    the content types that an earlier transactional test's flush re-creates."""
    import importlib
    from io import StringIO

    from django.apps import apps

    importlib.import_module("members.migrations.0002_relief_reasons").seed(apps, None)
    importlib.import_module("surveys.migrations.0002_covid_survey").install(apps, None)
    call_command("seed_demo", stdout=StringIO())


def _public_paths() -> list[str]:
    from courses.models import Session
    from pledges.models import Initiative, OpenLetter
    from surveys.models import Survey

    paths = ["/", "/open-letter/", "/alliance/", "/alliance/co-sign/", "/courses/"]
    letter = OpenLetter.objects.published().first()
    if letter:
        paths.append(letter.get_absolute_url())
    initiative = Initiative.objects.published().first()
    if initiative:
        paths.append(f"/initiatives/{initiative.slug}/signatures/")
    session = Session.objects.exclude(status="cancelled").order_by("-starts_at").first()
    paths.append(session.get_absolute_url())
    past = Session.objects.filter(status="ended").order_by("starts_at").first()
    if past:
        paths.append(past.get_absolute_url())
    paths.append("/surveys/findings/")
    published = Survey.objects.filter(results_published=True).first()
    if published:
        paths.append(f"/surveys/{published.slug}/results/")
    paths += ["/accounts/login/", "/accounts/signup/", "/privacy/"]
    return paths


def _member_paths() -> list[str]:
    from courses.models import Session
    from members.models import ReliefRequest
    from surveys.models import Survey

    paths = ["/members/", "/members/users/", "/members/profile/", "/members/relief/new/"]
    from cqa_portal.core import demo

    relief = ReliefRequest.objects.filter(company__members__user__email=demo.MEMBER_EMAIL).first()
    if relief:
        paths.append(f"/members/relief/{relief.pk}/")
    paths.append("/surveys/")
    survey = Survey.objects.filter(status="open").first() or Survey.objects.first()
    paths.append(f"/surveys/{survey.slug}/")
    session = Session.objects.exclude(status="cancelled").order_by("-starts_at").first()
    paths.append(session.get_absolute_url())  # with the one-click registration
    return paths


def _member_cookie(live_server) -> dict:
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(email=demo.MEMBER_EMAIL))
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }


def _language_cookie(live_server, language: str) -> dict:
    return {"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}


def _check_pages(page, axe, live_server, paths, language, who) -> list[str]:
    problems = []
    for path in paths:
        page.set_viewport_size(PHONE)
        response = page.goto(live_server.url + path)
        label = f"{who}/{language} {path}"
        if response is None or response.status >= 400:
            problems.append(f"{label}: HTTP {response.status if response else '?'}")
            continue
        assert page.locator("html").get_attribute("lang").lower().startswith(language[:2])
        overflow = page.evaluate(OVERFLOW)
        if overflow > 0:
            wide = page.evaluate(
                "() => [...document.querySelectorAll('body *')].filter(e => "
                "e.getBoundingClientRect().right > window.innerWidth + 1).slice(-3)"
                ".map(e => e.tagName + '.' + e.className).join(', ')"
            )
            problems.append(f"{label}: {overflow}px horizontal overflow at 390px ({wide})")
        if path == paths[0]:  # the phone header (its menu button) once per pass
            problems += axe(page, context=f"{label} @390")
        page.set_viewport_size(DESKTOP)
        problems += axe(page, context=f"{label} @1280")
        if language == "en":
            height = page.evaluate("document.querySelector('.portal-header .navbar').offsetHeight")
            if height > 80:
                problems.append(f"{label}: English header wraps at 1280px ({height}px high)")
    return problems


def test_main_pages_fit_a_phone_and_pass_axe(page, axe, live_server):
    _seed()
    context = page.context
    context.add_init_script(path=AXE_PATH)  # once for every page, instead of per axe() call
    problems = []
    public = _public_paths()
    for language in LANGUAGES:
        context.add_cookies([_language_cookie(live_server, language)])
        problems += _check_pages(page, axe, live_server, public, language, "anonymous")
    context.add_cookies([_member_cookie(live_server)])
    member = _member_paths()
    for language in LANGUAGES:
        context.add_cookies([_language_cookie(live_server, language)])
        problems += _check_pages(page, axe, live_server, member, language, "member")
    assert problems == []


def test_menu_without_javascript_at_390px(page, live_server):
    _seed()
    context = page.context.browser.new_context(java_script_enabled=False, viewport=PHONE)
    try:
        nojs = context.new_page()
        for language in LANGUAGES:
            context.add_cookies([_language_cookie(live_server, language)])
            nojs.goto(live_server.url + "/privacy/")
            header = nojs.locator("header")
            # The menu is open: the button that needs JavaScript is not offered.
            assert not header.locator(".navbar-toggler").is_visible()
            for name in ["/open-letter/", "/alliance/", "/courses/", "/surveys/findings/"]:
                link = header.locator(f'a[href="{name}"]')
                assert link.is_visible(), f"{language}: {name} hidden without JavaScript"
            assert header.locator('a[href="/accounts/login/"]').is_visible()
            assert header.locator('a[href="/accounts/signup/"]').is_visible()
            assert header.locator("#language-select").is_visible()
            assert nojs.evaluate(OVERFLOW) <= 0
        # The language switch works: English, then back to Chinese.
        nojs.goto(live_server.url + "/privacy/")
        nojs.select_option("#language-select", "en")
        nojs.click("#language-submit")
        assert nojs.locator("html").get_attribute("lang") == "en"
        assert nojs.url.endswith("/privacy/")
        # A nav link leads somewhere and login is reachable.
        nojs.locator('header a[href="/courses/"]').click()
        assert nojs.url.endswith("/courses/")
        nojs.locator('header a[href="/accounts/login/"]').click()
        assert nojs.url.endswith("/accounts/login/")
    finally:
        context.close()


def test_menu_collapses_with_javascript(page, live_server):
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/privacy/")
    login = page.locator('header a[href="/accounts/login/"]')
    assert not login.is_visible()
    page.locator(".navbar-toggler").click()
    login.wait_for(state="visible")
    assert page.locator(".navbar-toggler").get_attribute("aria-expanded") == "true"


def _error_summary_focused(page) -> str:
    return page.evaluate(
        "() => { const a = document.activeElement; "
        "return a && a.classList.contains('error-summary') ? a.textContent : ''; }"
    )


def test_failed_course_registration_focuses_the_error_summary(page, live_server):
    from django.utils import timezone

    from courses.models import Session

    _seed()
    session = (
        Session.objects.filter(starts_at__gt=timezone.now())
        .exclude(status="cancelled")
        .order_by("starts_at")
        .first()
    )
    page.goto(live_server.url + session.get_absolute_url())
    page.locator("form.portal-form button[type=submit]").click()
    page.wait_for_load_state()
    summary = _error_summary_focused(page)
    assert "请修正以下问题" in summary
    # Each error links to its field.
    links = page.locator(".error-summary a")
    assert links.count() >= 3
    href = links.first.get_attribute("href")
    assert page.locator(href).count() == 1
    links.first.click()
    assert page.evaluate("document.activeElement.id") == href[1:]


def test_failed_login_and_survey_focus_the_error_summary(page, live_server):
    _seed()
    page.goto(live_server.url + "/accounts/login/")
    page.locator("form.portal-form button[type=submit]").click()
    page.wait_for_load_state()
    assert "请修正以下问题" in _error_summary_focused(page)

    from surveys.models import Survey

    page.context.add_cookies([_member_cookie(live_server)])
    survey = Survey.objects.filter(status="open").first()
    page.goto(live_server.url + f"/surveys/{survey.slug}/?edit=1")
    required = page.locator(".survey-form .required-mark")
    assert required.count() >= 1
    assert required.first.get_attribute("aria-hidden") == "true"
    page.locator("button[name=submit]").click()
    page.wait_for_load_state()
    assert "请修正以下问题" in _error_summary_focused(page)
