"""The shared page cache (cqa_portal.core.pagecache), on its main user the open letter: exact
counts, per-visitor CSRF tokens whichever process cached the page, safe fallbacks."""

import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils import timezone

from cqa_portal.core import pagecache
from pledges import services
from tests.pledges.factories import (
    CommitmentFactory,
    InitiativeItemFactory,
    LetterFactory,
    SignatureFactory,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def letter(db):
    letter = LetterFactory(slug="2020-letter")
    for _ in range(3):
        CommitmentFactory(letter=letter)
        InitiativeItemFactory(initiative=letter.initiative)
    return letter


@pytest.fixture
def initiative(letter):
    return letter.initiative


def _token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def _signing_data(token, email="csrf@example.com"):
    return {
        "kind": "individual",
        "ind-name": "甲",
        "ind-organisation": "乙",
        "ind-province": "11",
        "ind-email": email,
        "ind-privacy_consent": "on",
        "csrfmiddlewaretoken": token,
    }


def test_second_anonymous_visit_runs_no_query(client, letter, django_assert_num_queries):
    client.get("/open-letter/")
    with django_assert_num_queries(0):
        response = client.get("/open-letter/")
    assert letter.title in response.content.decode()


def test_each_visitor_gets_a_working_csrf_token_from_the_cached_page(letter):
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    html_1 = first.get("/open-letter/").content.decode()
    html_2 = second.get("/open-letter/").content.decode()
    assert "pagecache-csrf-" not in html_1 + html_2
    token = _token(html_2)
    assert token != _token(html_1)
    response = second.post(
        f"/initiatives/{letter.initiative.slug}/sign/",
        {
            "kind": "individual",
            "ind-name": "甲",
            "ind-organisation": "乙",
            "ind-province": "11",
            "ind-email": "csrf@example.com",
            "ind-privacy_consent": "on",
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status_code == 302
    # Someone else's token (from another visitor's page) does not work for this visitor.
    third = Client(enforce_csrf_checks=True)
    third.get("/open-letter/")
    assert (
        third.post(
            f"/initiatives/{letter.initiative.slug}/sign/", {"csrfmiddlewaretoken": "x" * 64}
        ).status_code
        == 403
    )


def test_counts_change_at_once_on_confirm_withdraw_and_hide(client, initiative):
    from tests.factories import StaffFactory

    signature = SignatureFactory(initiative=initiative, status="pending", confirmed_at=None)
    assert 'id="count-total">0<' in client.get("/open-letter/").content.decode()
    services.signature_confirm(signature_id=signature.pk, link_key=signature.link_key)
    assert 'id="count-total">1<' in client.get("/open-letter/").content.decode()
    services.signatures_set_hidden(signature_ids=[signature.pk], hidden=True, actor=StaffFactory())
    assert 'id="count-total">0<' in client.get("/open-letter/").content.decode()
    services.signatures_set_hidden(signature_ids=[signature.pk], hidden=False, actor=None)
    assert 'id="count-total">1<' in client.get("/open-letter/").content.decode()
    services.signature_withdraw(signature_id=signature.pk, link_key=signature.link_key)
    assert 'id="count-total">0<' in client.get("/open-letter/").content.decode()


def test_staff_edits_show_at_once(client, letter):
    from tests.factories import StaffFactory

    assert "改过的承诺" not in client.get("/open-letter/").content.decode()
    staff_client = Client()
    staff_client.force_login(StaffFactory())
    commitments = list(letter.commitments.all())
    data = {
        "title": letter.title,
        "slug": letter.slug,
        "date": "2020-03-20",
        "addressees": letter.addressees,
        "body": letter.body,
        "initiative": letter.initiative_id,
        "is_published": "on",
        "published_at_0": letter.published_at.date().isoformat(),
        "published_at_1": "00:00:00",
        "commitments-TOTAL_FORMS": str(len(commitments)),
        "commitments-INITIAL_FORMS": str(len(commitments)),
        "core-auditentry-content_type-object_id-TOTAL_FORMS": "0",
        "core-auditentry-content_type-object_id-INITIAL_FORMS": "0",
    }
    for n, commitment in enumerate(commitments):
        data[f"commitments-{n}-id"] = commitment.pk
        data[f"commitments-{n}-letter"] = letter.pk
        data[f"commitments-{n}-order"] = commitment.order
        data[f"commitments-{n}-text"] = "改过的承诺" if n == 0 else commitment.text
    response = staff_client.post(f"/admin/pledges/openletter/{letter.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert "改过的承诺" in client.get("/open-letter/").content.decode()


def test_query_strings_are_cached_apart_and_logged_in_visits_rendered_afresh(
    client, letter, django_assert_num_queries
):
    client.get("/open-letter/")
    with django_assert_num_queries(6):
        client.get("/open-letter/?utm_source=mail")
    with django_assert_num_queries(0):
        client.get("/open-letter/?utm_source=mail")
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    html = client.get("/open-letter/").content.decode()
    assert "退出登录" in html


def test_languages_are_cached_apart(client, letter):
    assert letter.title in client.get("/open-letter/").content.decode()
    client.cookies["django_language"] = "en"
    assert letter.title_en in client.get("/open-letter/").content.decode()


def test_cache_outage_still_serves_the_page(client, letter):
    from django.core.cache import cache

    with mock.patch.object(cache, "get", side_effect=ConnectionError("redis down")):
        response = client.get("/open-letter/")
    assert response.status_code == 200
    assert letter.title in response.content.decode()


def test_unknown_letter_is_not_cached_as_a_page(client, letter):
    assert client.get("/open-letter/nope/").status_code == 404
    assert client.get("/open-letter/nope/").status_code == 404


# --- across processes ---------------------------------------------------------------------------


def test_placeholder_is_the_same_in_every_process_and_secret(settings):
    first = pagecache.placeholder()
    pagecache.reset()  # what a freshly started worker computes
    assert pagecache.placeholder() == first
    settings.SECRET_KEY = "another-deployment-" + "x" * 40
    assert pagecache.placeholder() != first  # derived from the secret key, not guessable


def test_a_page_cached_by_another_process_carries_this_visitors_working_token(
    redis_url, letter, django_assert_num_queries
):
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    assert not isinstance(caches["default"], LocMemCache), "the shared cache must be Redis"
    worker_a = Client(enforce_csrf_checks=True)
    html_a = worker_a.get("/open-letter/").content.decode()
    assert letter.title in html_a
    # Another gunicorn worker: no per-process memo, placeholder recomputed, reading the page
    # worker A put in Redis.
    pagecache.reset()
    visitor = Client(enforce_csrf_checks=True)
    with django_assert_num_queries(0):  # served from the shared cache, not rendered again
        response = visitor.get("/open-letter/")
    html = response.content.decode()
    assert letter.title in html
    assert "pagecache-csrf-" not in html
    assert "csrftoken" in response.cookies
    token = _token(html)
    assert token != _token(html_a)
    signed = visitor.post(
        f"/initiatives/{letter.initiative.slug}/sign/", _signing_data(token, "b@example.com")
    )
    assert signed.status_code == 302
    assert letter.initiative.signatures.filter(email="b@example.com").exists()


SUBPROCESS_RENDER = """
import os
import django

django.setup()
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import translation

from cqa_portal.core import pagecache

translation.activate("zh-hans")
request = RequestFactory().get("/open-letter/")
request.user = AnonymousUser()
html = (
    '<p id="made-by">process {pid}</p><form method="post" action="/initiatives/{slug}/sign/">'
    '<input type="hidden" name="csrfmiddlewaretoken" value="{token}"></form>'
)
response = pagecache.serve(
    request,
    lambda token: HttpResponse(html.format(pid=os.getpid(), slug=os.environ["SLUG"], token=token)),
    name="pledges:open_letter",
)
assert pagecache.placeholder() not in response.content.decode()
print(os.getpid())
"""


def test_a_page_cached_by_a_separate_python_process_works_here(redis_url, letter):
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cqa_portal.settings.test",
        "SLUG": letter.initiative.slug,
    }
    result = subprocess.run(
        [sys.executable, "-c", SUBPROCESS_RENDER],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    other_pid = int(result.stdout.split()[-1])
    assert other_pid != os.getpid()
    visitor = Client(enforce_csrf_checks=True)
    html = visitor.get("/open-letter/").content.decode()
    assert f"process {other_pid}" in html  # the other process's page, from Redis
    assert "pagecache-csrf-" not in html
    signed = visitor.post(
        f"/initiatives/{letter.initiative.slug}/sign/", _signing_data(_token(html))
    )
    assert signed.status_code == 302


# --- the mechanism, for any app -----------------------------------------------------------------


def _anonymous_get(path, **extra):
    request = RequestFactory().get(path, **extra)
    request.user = AnonymousUser()
    return request


class _Page:
    """A render function that counts its calls."""

    def __init__(self, status=200):
        self.calls, self.status = 0, status

    def __call__(self, token):
        self.calls += 1
        return HttpResponse(
            f'<p>{self.calls}</p><input name="csrfmiddlewaretoken" value="{token}">',
            status=self.status,
        )


def test_pages_are_cached_per_path_and_language():
    from django.utils import translation

    page = _Page()
    for _ in range(2):
        pagecache.serve(_anonymous_get("/a/"), page, name="one")
    assert page.calls == 1
    pagecache.serve(_anonymous_get("/b/"), page, name="one")
    assert page.calls == 2
    with translation.override("en"):
        pagecache.serve(_anonymous_get("/a/"), page, name="one")
    assert page.calls == 3


def test_each_request_gets_its_own_token_and_non_200_pages_are_not_cached():
    page = _Page()
    first = _anonymous_get("/a/")
    second = _anonymous_get("/a/")
    html_1 = pagecache.serve(first, page, name="one").content.decode()
    html_2 = pagecache.serve(second, page, name="one").content.decode()
    token_1, token_2 = _token(html_1), _token(html_2)
    assert len(token_1) == len(token_2) == 64 and token_1 != token_2
    # Each request got a CSRF secret of its own, sent as its cookie.
    assert first.META["CSRF_COOKIE"] != second.META["CSRF_COOKIE"]
    assert first.META["CSRF_COOKIE_NEEDS_UPDATE"] and second.META["CSRF_COOKIE_NEEDS_UPDATE"]
    assert pagecache.placeholder() not in html_1 + html_2
    missing = _Page(status=404)
    for _ in range(2):
        response = pagecache.serve(_anonymous_get("/gone/"), missing, name="one")
        assert response.status_code == 404
        assert pagecache.placeholder() not in response.content.decode()
    assert missing.calls == 2


def test_the_token_put_in_is_one_djangos_csrf_check_accepts():
    from django.middleware.csrf import CSRF_ALLOWED_CHARS, _unmask_cipher_token

    for _ in range(50):
        request = _anonymous_get("/a/")
        token = pagecache._token(request)
        assert len(token) == 64 and set(token) <= set(CSRF_ALLOWED_CHARS)
        assert _unmask_cipher_token(token) == request.META["CSRF_COOKIE"]
    request = _anonymous_get("/a/")
    request.META["CSRF_COOKIE"] = "a" * 32  # the visitor's cookie is kept
    assert _unmask_cipher_token(pagecache._token(request)) == "a" * 32


def test_posts_long_query_strings_and_sessions_are_never_cached():
    page = _Page()
    long_query = "x=" + "1" * pagecache.MAX_QUERY
    pagecache.serve(_anonymous_get("/a/", QUERY_STRING=long_query), page, name="one")
    post = RequestFactory().post("/a/")
    post.user = AnonymousUser()
    pagecache.serve(post, page, name="one")
    with_session = _anonymous_get("/a/")
    with_session.COOKIES["sessionid"] = "abc"
    pagecache.serve(with_session, page, name="one")
    pagecache.serve(with_session, page, name="one")
    assert page.calls == 4


# --- what a page depends on: the tables its SQL read ---------------------------------------------


class _Reading(_Page):
    """A render function that reads the topics (and counts its calls)."""

    def __call__(self, token):
        from courses.models import Topic

        self.calls += 1
        names = ", ".join(Topic.objects.order_by("pk").values_list("name", flat=True))
        return HttpResponse(f"<p>{self.calls}: {names}</p>")


def test_any_write_to_a_table_the_page_read_renders_it_again_and_others_do_not():
    from django.db import connection

    from courses.models import Topic
    from pledges.models import Initiative
    from tests.courses.factories import TopicFactory

    page = _Reading()
    topic = TopicFactory(name="甲")

    def html():
        return pagecache.serve(_anonymous_get("/topics/"), page, name="topics").content.decode()

    assert "1: 甲" in html() and "1: 甲" in html()
    Initiative.objects.filter(pk=-1).update(title="x")  # another table: still cached
    assert page.calls == 1
    Topic.objects.filter(pk=topic.pk).update(name="乙")  # a queryset update
    assert "2: 乙" in html()
    TopicFactory(name="丙")  # an insert
    assert "3: 乙, 丙" in html()
    with connection.cursor() as cursor:  # raw SQL, unquoted
        cursor.execute("UPDATE courses_topic SET name = %s WHERE id = %s", ["丁", topic.pk])
    assert "4: 丁, 丙" in html()
    Topic.objects.filter(name="丙").delete()
    assert "5: 丁</p>" in html()
    assert "5: 丁</p>" in html() and page.calls == 5


def test_a_rolled_back_write_costs_one_render_and_shows_nothing():
    from django.db import transaction

    from courses.models import Topic
    from tests.courses.factories import TopicFactory

    page = _Reading()
    TopicFactory(name="甲")

    def html():
        return pagecache.serve(_anonymous_get("/topics/"), page, name="topics").content.decode()

    html()
    try:
        with transaction.atomic():
            Topic.objects.update(name="乙")
            raise RuntimeError
    except RuntimeError:
        pass
    assert "2: 甲" in html() and "2: 甲" in html()


def test_pages_are_learned_not_declared_and_the_first_render_is_stored():
    page = _Reading()
    pagecache.serve(_anonymous_get("/topics/"), page, name="topics")
    assert pagecache._learned["topics"] == {"courses_topic"}
    pagecache.serve(_anonymous_get("/topics/"), page, name="topics")
    assert page.calls == 1


def test_the_lifetime_bounds_changes_without_a_write():
    page = _Page()
    pagecache.serve(_anonymous_get("/t/"), page, name="one")
    later = timezone.now().timestamp() + pagecache.LIFETIME + 1
    with mock.patch.object(pagecache.time, "time", return_value=later):
        pagecache.serve(_anonymous_get("/t/"), page, name="one")
    assert page.calls == 2


def test_cache_errors_fall_back_to_rendering():
    import redis
    from django.core.cache import cache

    from tests.courses.factories import TopicFactory

    page = _Reading()
    pagecache.serve(_anonymous_get("/topics/"), page, name="topics")
    down = redis.exceptions.ConnectionError("redis down")
    for method in ("get", "get_many", "set", "add"):
        with mock.patch.object(cache, method, side_effect=down):
            assert pagecache.serve(_anonymous_get("/x/"), page, name="x").status_code == 200
    client = pagecache._redis()
    if client is not None:
        for method in ("mget", "pipeline", "pubsub"):
            with mock.patch.object(client, method, side_effect=down):
                pagecache.reset()
                response = pagecache.serve(_anonymous_get("/topics/"), page, name="topics")
                assert response.status_code == 200
                TopicFactory()  # a write while Redis is down never fails
    assert page.calls >= 4


@pytest.mark.usefixtures("redis_url")
def test_versions_come_from_the_subscription_without_a_round_trip():
    from tests.courses.factories import TopicFactory

    client = pagecache._redis()
    assert client is not None, "the shared cache must be Redis"
    page = _Reading()
    pagecache.serve(_anonymous_get("/topics/"), page, name="topics")
    with mock.patch.object(client, "mget", wraps=client.mget) as mget:
        for _ in range(3):
            pagecache.serve(_anonymous_get("/topics/"), page, name="topics")
        TopicFactory(name="新")
        assert (
            "新"
            in pagecache.serve(_anonymous_get("/topics/"), page, name="topics").content.decode()
        )
    assert mget.call_count == 0 and page.calls == 2


@pytest.mark.usefixtures("redis_url")
def test_a_lost_subscription_falls_back_to_reading_versions():
    from tests.courses.factories import TopicFactory

    page = _Reading()
    pagecache.serve(_anonymous_get("/topics/"), page, name="topics")
    state = pagecache._state()
    assert state.trusted
    with mock.patch.object(state.pubsub, "get_message", side_effect=ConnectionError("gone")):
        pagecache.serve(_anonymous_get("/topics/"), page, name="topics")
    assert not pagecache._state().trusted and page.calls == 1
    # While unsubscribed a new version is read from Redis on each request.
    client = pagecache._redis()
    client.set(pagecache._prefix() + "courses_topic", "from-elsewhere")
    pagecache.serve(_anonymous_get("/topics/"), page, name="topics")
    assert page.calls == 2
    TopicFactory()
    pagecache.serve(_anonymous_get("/topics/"), page, name="topics")
    assert page.calls == 3


def test_a_page_rendered_while_another_connection_writes_is_dropped_at_its_commit(
    postgres, transactional_db
):
    """Real threads on PostgreSQL: a writer's uncommitted change is invisible to the page
    rendered meanwhile (stored with the versions read before), and its commit gives the table
    a new version, so the next request renders the change."""
    import threading

    from django.db import connection, transaction

    from courses.models import Topic
    from tests.courses.factories import TopicFactory

    topic = TopicFactory(name="旧")
    page = _Reading()
    written, release, done = threading.Event(), threading.Event(), threading.Event()

    def writer():
        try:
            with transaction.atomic():
                Topic.objects.filter(pk=topic.pk).update(name="新")
                written.set()
                release.wait(10)
        finally:
            connection.close()
            done.set()

    def html():
        return pagecache.serve(_anonymous_get("/topics/"), page, name="topics").content.decode()

    thread = threading.Thread(target=writer)
    thread.start()
    assert written.wait(10)
    assert "旧" in html() and "旧" in html()  # rendered meanwhile and served
    release.set()
    assert done.wait(10)
    thread.join()
    assert "新" in html()
    assert "新" in html() and page.calls == 2


def test_writes_to_the_outbox_and_sessions_give_no_versions_and_pages_reading_them_are_not_stored():
    from unittest import mock as _mock

    from cqa_portal.core.models import OutboxMessage

    with _mock.patch.object(pagecache, "_bump") as bump:
        OutboxMessage.objects.filter(pk=-1).update(subject="x")
    assert bump.call_count == 0

    class _ReadsOutbox(_Page):
        def __call__(self, token):
            self.calls += 1
            return HttpResponse(f"<p>{OutboxMessage.objects.count()}</p>")

    page = _ReadsOutbox()
    for _ in range(2):
        pagecache.serve(_anonymous_get("/outbox/"), page, name="outbox")
    assert page.calls == 2
