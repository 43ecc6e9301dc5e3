"""Every anonymous public page through the one page cache (cqa_portal.core.pagecache): served
from the cache on a second visit, and a change made through the service that makes it is
visible on the very next request (also in a process still holding the old page)."""

import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory

from cqa_portal.core import pagecache
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _client(lang="en"):
    client = Client(enforce_csrf_checks=True)
    client.cookies["django_language"] = lang
    return client


def _get(client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    return response, response.content.decode()


def _cached(client, path) -> str:
    """The page is served from the cache: nothing rendered, no query (a signed-in visitor's
    session comes from the cache and their user from the memo of core.backends)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response, html = _get(client, path)
    assert not response.templates, f"{path} was rendered again"
    assert len(queries) == 0, [q["sql"] for q in queries]
    assert "pagecache-csrf-" not in html
    return html


def _token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


# --- each page kind: cached, then the service's change is on the next request ---------------


def test_home_is_cached_per_language():
    client = _client("zh-hans")
    _get(client, "/")
    assert "公开信" in _cached(client, "/")
    english = _client("en")
    _get(english, "/")
    assert "Open letter" in _cached(english, "/")


@pytest.fixture
def initiative(db):
    from tests.pledges.factories import InitiativeFactory, InitiativeItemFactory

    initiative = InitiativeFactory()
    InitiativeItemFactory(initiative=initiative)
    return initiative


def test_initiative_page_shows_a_staff_edit_at_once(initiative):
    from pledges import services

    client = _client()
    path = f"/initiatives/{initiative.slug}/sign/"
    _get(client, path)
    _cached(client, path)
    initiative.title_en = "A renamed initiative"
    services.publication_save(obj=initiative, actor=StaffFactory(), was_published=True)
    assert "A renamed initiative" in _get(client, path)[1]


def test_signature_wall_with_and_without_filters(initiative):
    from pledges import services
    from tests.pledges.factories import SignatureFactory

    client = _client()
    wall = f"/initiatives/{initiative.slug}/signatures/"
    filtered = f"{wall}?province=42"
    other = f"{wall}?province=11"
    for path in (wall, filtered, other):
        _get(client, path)
    for path in (wall, filtered, other):
        _cached(client, path)
    signature = SignatureFactory(
        initiative=initiative, name="新签名人", status="pending", confirmed_at=None
    )
    services.signature_confirm(signature_id=signature.pk, link_key=signature.link_key)
    assert "新签名人" in _get(client, wall)[1]
    assert "新签名人" in _get(client, filtered)[1]
    assert "新签名人" not in _get(client, other)[1]


def test_alliance_shows_an_approved_cosignature_at_once():
    from pledges import services
    from tests.pledges.factories import AllianceFactory, CoSignatureFactory

    alliance = AllianceFactory()
    cosignature = CoSignatureFactory(alliance=alliance, organisation="某省质量协会甲")
    client = _client()
    _get(client, "/alliance/")
    assert "某省质量协会甲" not in _cached(client, "/alliance/")
    _get(client, "/alliance/co-sign/")
    _cached(client, "/alliance/co-sign/")
    services.cosign_decide(cosignature_ids=[cosignature.pk], approve=True, actor=StaffFactory())
    assert "某省质量协会甲" in _get(client, "/alliance/")[1]


@pytest.fixture
def session(db):
    from tests.courses.factories import SessionFactory, TopicFactory

    return SessionFactory(capacity=10, topic=TopicFactory(slug="tools"))


def test_course_schedule_with_and_without_filters(session):
    from courses import services

    client = _client()
    paths = ["/courses/", "/courses/?topic=tools", "/courses/?topic=tools&month="]
    for path in paths:
        _get(client, path)
    for path in paths:
        assert "10 seats left" in _cached(client, path)
    services.registration_register_user(session_id=session.pk, user=UserFactory(), language="en")
    for path in paths:
        assert "9 seats left" in _get(client, path)[1]
    session.title_en = "Renamed session"
    services.session_save(session=session, actor=StaffFactory())
    assert "Renamed session" in _get(client, "/courses/?topic=tools")[1]


def test_session_page_shows_seats_and_cancellation_at_once(session):
    from courses import services

    client = _client()
    path = f"/courses/{session.pk}/"
    _get(client, path)
    assert "0 of 10 taken" in _cached(client, path)
    services.registration_register_user(session_id=session.pk, user=UserFactory(), language="en")
    assert "1 of 10 taken" in _get(client, path)[1]
    _cached(client, path)
    services.session_cancel(session_id=session.pk, actor=StaffFactory(), reason="")
    assert "This session has been cancelled" in _get(client, path)[1]


def test_course_admin_edits_show_at_once(session, client):
    visitor = _client()
    _get(visitor, "/courses/")
    client.force_login(StaffFactory())
    topic = session.topic
    response = client.post(
        f"/admin/courses/topic/{topic.pk}/change/",
        {
            "name": topic.name,
            "name_en": "Renamed topic",
            "slug": topic.slug,
            "order": 0,
            "needs-TOTAL_FORMS": "0",
            "needs-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert "Renamed topic" in _get(visitor, "/courses/")[1]


def test_findings_and_results_show_a_new_snapshot_at_once():
    from surveys import services
    from tests.members.factories import CompanyFactory
    from tests.surveys.factories import COMPLETE, covid_survey, file_response

    survey = covid_survey()
    services.survey_set_published(survey=survey, published=True)
    services.summary_snapshot_make(survey_id=survey.pk)
    client = _client()
    results = f"/surveys/{survey.slug}/results/"
    for path in ("/surveys/findings/", results):
        _get(client, path)
        assert "from 0 responses" in _cached(client, path)
    file_response(survey, CompanyFactory(), COMPLETE)
    services.summary_snapshot_make(survey_id=survey.pk)
    for path in ("/surveys/findings/", results):
        assert "from 1 response." in _get(client, path)[1]
    services.survey_set_published(survey=survey, published=False)
    assert client.get(results).status_code == 404


# --- forms on cached pages work for every visitor ---------------------------------------------


def test_the_course_registration_form_of_a_cached_page_works(session):
    from courses.models import Registration

    _get(_client(), f"/courses/{session.pk}/")  # cached by a first visitor
    visitor = _client()
    html = _cached(visitor, f"/courses/{session.pk}/")
    response = visitor.post(
        f"/courses/{session.pk}/register/",
        {
            "name": "访客",
            "email": "visitor@example.com",
            "organisation": "某公司",
            "privacy_consent": "on",
            "csrfmiddlewaretoken": _token(html),
        },
    )
    assert response.status_code == 302
    assert Registration.objects.filter(email="visitor@example.com").exists()


def test_the_language_switch_of_a_cached_page_works():
    _get(_client("zh-hans"), "/")
    visitor = _client("zh-hans")
    html = _cached(visitor, "/")
    response = visitor.post(
        "/i18n/setlang/", {"language": "en", "next": "/", "csrfmiddlewaretoken": _token(html)}
    )
    assert response.status_code == 302


# --- what is never cached ----------------------------------------------------------------------


def test_signed_in_visitors_get_copies_of_their_own_and_flash_messages_fresh_pages(session):
    anonymous = Client()
    _get(anonymous, "/courses/")
    first, second = UserFactory(), UserFactory()
    client = Client()
    client.force_login(first)
    response, html = _get(client, "/courses/")
    assert response.templates and first.email in html  # rendered for this member
    assert first.email in _cached(client, "/courses/")
    other = Client()
    other.force_login(second)
    response, html = _get(other, "/courses/")
    assert response.templates and second.email in html and first.email not in html
    assert first.email not in _cached(_client("zh-hans"), "/courses/")
    flash = Client()
    flash.cookies["messages"] = "x"
    assert flash.get("/courses/").templates


def test_a_signed_in_visitors_own_change_shows_at_once(session):
    user = UserFactory(email="old@example.com")
    client = Client()
    client.force_login(user)
    _get(client, "/courses/")
    assert "old@example.com" in _cached(client, "/courses/")
    user.email = "new@example.com"
    user.save(update_fields=["email"])
    response, html = _get(client, "/courses/")
    assert response.templates and "new@example.com" in html


def _anonymous_get(path):
    request = RequestFactory().get(path)
    request.user = AnonymousUser()
    return request


def test_a_page_rendered_with_a_real_token_or_a_new_message_is_not_stored():
    calls = []

    def with_real_token(_token):
        calls.append(1)
        return HttpResponse(f"<input value='{get_token(request)}'>")

    for _ in range(2):
        request = _anonymous_get("/real-token/")
        pagecache.serve(request, with_real_token, name="one")
    assert len(calls) == 2
    from django.contrib.messages.storage.cookie import CookieStorage

    def with_message(_token):
        calls.append(1)
        request._messages.add(20, "hello")
        return HttpResponse("page")

    for _ in range(2):
        request = _anonymous_get("/message/")
        request._messages = CookieStorage(request)
        pagecache.serve(request, with_message, name="one")
    assert len(calls) == 4


def test_cache_errors_fall_back_to_rendering(session):
    import redis
    from django.core.cache import cache

    client = _client()
    _get(client, "/courses/")
    down = redis.exceptions.ConnectionError("redis down")
    for method in ("get_many", "get", "set", "add"):
        with mock.patch.object(cache, method, side_effect=down):
            assert client.get("/courses/").status_code == 200


SUBPROCESS_BUMP = """
import django

django.setup()
from cqa_portal.core import pagecache

pagecache.bump("courses_session")
"""


def test_a_bump_in_another_process_is_seen_on_the_next_request_here(redis_url, session):
    client = _client()
    _get(client, "/courses/")
    _cached(client, "/courses/")  # this process now holds the page in its memo too
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "cqa_portal.settings.test"}
    result = subprocess.run(
        [sys.executable, "-c", SUBPROCESS_BUMP],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert client.get("/courses/").templates  # rendered again, at once


def test_a_members_schedule_is_their_own_and_shows_a_registration_at_once(session):
    from courses import services
    from tests.courses.factories import SessionFactory

    other = SessionFactory(title_en="Another session")
    member = UserFactory()
    client = _client()
    client.force_login(member)
    _get(client, "/courses/")
    assert "You:" not in _cached(client, "/courses/")
    services.registration_register_user(session_id=session.pk, user=member, language="en")
    response, html = _get(client, "/courses/")
    assert response.templates and html.count("You:") == 1 and "Another session" in html
    mine = html.index("You:")
    assert html.rfind(session.title_en, 0, mine) > html.rfind(other.title_en, 0, mine)
    assert _cached(client, "/courses/").count("You:") == 1
    assert "You:" not in _get(_client(), "/courses/")[1]  # not in the anonymous copy


def test_the_signed_in_user_comes_from_an_exact_memo(session):
    """The user of each request is read once per process (core.backends) and again after any
    write to the user table: a deactivated or changed account shows on the next request."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = UserFactory(email="memo@example.com")
    client = _client()
    client.force_login(user)
    _get(client, "/courses/")
    with CaptureQueriesContext(connection) as queries:
        _get(client, "/courses/")
    assert len(queries) == 0  # neither the session (cache) nor the user (memo) is queried
    get_user_model().objects.filter(pk=user.pk).update(first_name="改")
    response, html = _get(client, "/courses/")
    assert response.wsgi_request.user.first_name == "改"
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    response = client.get("/members/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_page_held_by_this_process_is_served_before_the_view_and_keeps_its_headers(session):
    """core.middleware.PageCacheMiddleware: an anonymous hit is answered before the session,
    authentication and account middleware and the URL resolver, with the same security
    headers, language and CSRF cookie as a rendered page."""
    from unittest import mock

    client = _client("en")
    rendered, _html = _get(client, "/courses/")
    with mock.patch("django.urls.resolvers.URLResolver.resolve") as resolve:
        served = _get(client, "/courses/")[0]
    assert resolve.call_count == 0
    for header in (
        "Content-Security-Policy",
        "X-Frame-Options",
        "Permissions-Policy",
        "Content-Language",
    ):
        assert served[header] == rendered[header], header
    assert "csrftoken" in served.cookies
    assert not hasattr(served.wsgi_request, "user")  # authentication never ran
    signed_in = Client()
    signed_in.force_login(UserFactory())
    assert signed_in.get("/courses/").templates  # a member's own copy, through the view


def test_member_pages_are_served_from_their_own_copy_and_another_company_gets_404():
    from members.models import CompanyMembership
    from tests.members.factories import FeeFactory, MembershipFactory, ReliefFactory
    from tests.surveys.factories import covid_survey, member_user

    survey = covid_survey()
    user = member_user(role=CompanyMembership.Role.ADMIN)
    company = CompanyMembership.objects.get(user=user).company
    FeeFactory(company=company, year=2020)
    relief = ReliefFactory(company=company, year=2020, status="draft")
    client = _client()
    client.force_login(user)
    pages = [
        "/members/",
        "/members/users/",
        "/members/relief/new/",
        f"/members/relief/{relief.pk}/",
        "/surveys/",
        f"/surveys/{survey.slug}/",
        "/courses/",
    ]
    for path in pages:
        _get(client, path)
        assert user.email in _cached(client, path)  # their own copy, no query
    stranger = MembershipFactory(role="admin").user
    other = _client()
    other.force_login(stranger)
    response = other.get(f"/members/relief/{relief.pk}/")
    assert response.status_code == 404
    assert company.name not in other.get("/members/").content.decode()
    anonymous = _client()
    for path in pages[:-1]:
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login/" in response["Location"], path
