"""Drill: the Redis that holds both the cache and the broker is stopped, then frozen (SIGSTOP).

Done: the cache (``FailSoftRedisCache``) and a real Celery app point at a Redis server of the
drill's own; it is killed, and then (started again) frozen with SIGSTOP so that connections are
accepted but never answered. Each time, people log in (right and wrong password), sign up, sign
an initiative, register for a course, save the impact survey and file a relief request, and
/healthz is read.
Checked: no answer is a 5xx (before: login and signup answered 500 with Redis down), each
answers within 2 s (before: 5-6 s with Redis frozen), the mails are in the outbox, and /healthz
answers 503 naming the cache and the broker as down."""

import os
import signal
import time

import pytest
from django.test import override_settings

from cqa_portal.celery import PortalTask
from cqa_portal.core.models import OutboxMessage
from tests.courses.factories import SessionFactory
from tests.factories import PASSWORD, UserFactory
from tests.members.factories import FeeFactory, MembershipFactory, reason
from tests.pledges.factories import InitiativeFactory
from tests.surveys.factories import covid_survey, member_user

from .own_redis import OwnRedis
from .test_broker_down import _point_celery_at


@pytest.fixture
def redis_down(postgres, transactional_db):
    from cqa_portal.celery import app

    own = OwnRedis().start()
    previous = app.conf.broker_url
    broker_url = own.url
    cache_url = own.url.rsplit("/", 1)[0] + "/1"
    _point_celery_at(broker_url)
    app.conf.task_always_eager = False
    caches = {
        "default": {
            "BACKEND": "cqa_portal.core.cache.FailSoftRedisCache",
            "LOCATION": cache_url,
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
    try:
        with override_settings(CELERY_BROKER_URL=broker_url, CACHES=caches):
            yield own
    finally:
        if own.process:
            own.process.send_signal(signal.SIGCONT)
        own.stop()
        app.conf.task_always_eager = True
        PortalTask.broker_down_until = 0.0
        _point_celery_at(previous)


def _actions(client, n):
    """(name, callable returning a response) for every action that takes a rate limit or
    causes a mail."""
    user = UserFactory(email=f"known{n}@example.com")
    initiative = InitiativeFactory()
    session = SessionFactory()
    survey = covid_survey(slug=f"impact-{n}") if n else covid_survey()
    surveyor = member_user()
    relief = MembershipFactory()
    FeeFactory(company=relief.company)
    sales = reason("sales")

    def login_ok():
        return client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})

    def login_wrong():
        return client.post("/accounts/login/", {"login": user.email, "password": "wrong"})

    def signup():
        return client.post(
            "/accounts/signup/",
            {
                "email": f"new{n}@example.com",
                "name": "李华",
                "password1": "Quality-2020-strong",
                "password2": "Quality-2020-strong",
                "privacy_consent": "on",
            },
        )

    def sign():
        client.logout()
        return client.post(
            f"/initiatives/{initiative.slug}/sign/",
            {
                "kind": "individual",
                "ind-name": "李工程师",
                "ind-organisation": "某检验中心",
                "ind-province": "44",
                "ind-email": f"li{n}@example.com",
                "ind-show_name": "on",
                "ind-privacy_consent": "on",
            },
        )

    def register():
        return client.post(
            f"/courses/{session.pk}/register/",
            {
                "name": "Chen Zhiliang",
                "email": f"chen{n}@example.com",
                "organisation": "Example Manufacturing",
                "privacy_consent": "on",
            },
        )

    def survey_save():
        client.force_login(surveyor)
        return client.post(f"/surveys/{survey.slug}/", {"draft": "1"})

    def relief_file():
        client.force_login(relief.user)
        return client.post(
            "/members/relief/new/",
            {"year": "2020", "kind": "waiver", "reasons": [sales.pk], "submit": "1"},
        )

    return [
        ("login", login_ok),
        ("login (wrong password)", login_wrong),
        ("signup", signup),
        ("sign", sign),
        ("register", register),
        ("survey", survey_save),
        ("relief", relief_file),
    ]


def _drill(client, n, what):
    outcomes = []
    for name, action in _actions(client, n):
        started = time.monotonic()
        response = action()
        outcomes.append((name, response.status_code, time.monotonic() - started))
        client.logout()
    started = time.monotonic()
    health = client.get("/healthz")
    outcomes.append(("/healthz", health.status_code, time.monotonic() - started))
    for name, status, seconds in outcomes:
        print(f"redis {what}: {name} answered {status} in {seconds:.2f}s")
    assert all(status < 500 for name, status, _s in outcomes if name != "/healthz"), outcomes
    assert all(seconds < 2 for _n, _st, seconds in outcomes), outcomes
    assert health.status_code == 503
    assert set(health.json()["down"]) == {"broker", "cache"}
    return outcomes


def test_cache_and_broker_stopped_or_frozen_never_500(redis_down, client):
    # Up: the same actions, as a baseline, and /healthz is happy.
    assert client.get("/healthz").json()["down"] == []

    redis_down.stop()
    _drill(client, 1, "stopped")
    mails = OutboxMessage.objects.count()
    print(f"redis stopped: {mails} mails waiting in the outbox")
    assert mails >= 4  # signup, signing, registering, relief (one each at least)

    redis_down.start()
    PortalTask.broker_down_until = 0.0
    assert client.get("/healthz").json()["down"] == []
    os.kill(redis_down.process.pid, signal.SIGSTOP)
    try:
        _drill(client, 2, "frozen (SIGSTOP)")
    finally:
        os.kill(redis_down.process.pid, signal.SIGCONT)
    print(f"redis frozen: {OutboxMessage.objects.count() - mails} more mails in the outbox")
    assert OutboxMessage.objects.count() > mails


def test_page_cache_renders_afresh_while_the_cache_is_down(redis_down, client):
    from cqa_portal.core import pagecache
    from pledges import services
    from tests.pledges.factories import LetterFactory, SignatureFactory

    letter = LetterFactory()
    pagecache.reset()
    assert client.get("/open-letter/").status_code == 200
    redis_down.stop()
    signature = SignatureFactory(initiative=letter.initiative, status="pending", confirmed_at=None)
    before = client.get("/open-letter/").content.decode()
    services.signature_confirm(signature_id=signature.pk, link_key=signature.link_key)
    after = client.get("/open-letter/").content.decode()
    assert 'id="count-total">0<' in before and 'id="count-total">1<' in after
