"""Client addresses behind reverse proxies (TRUSTED_PROXY_COUNT), one rule for allauth's rate
limits and the portal's throttles (cqa_portal.core.clientip, cqa_portal.core.throttle)."""

import pytest
from allauth.account.adapter import get_adapter
from django.test import RequestFactory, override_settings

from cqa_portal.core import throttle
from cqa_portal.core.clientip import client_ip, client_network
from tests.courses.factories import SessionFactory
from tests.factories import PASSWORD, UserFactory
from tests.pledges.factories import InitiativeFactory

PROXY = "10.0.0.1"  # the reverse proxy's address, as the application server sees it


def _request(xff=None, remote=PROXY):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


# --- the rule ---------------------------------------------------------------------------------


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_without_trusted_proxies_the_forwarded_header_is_ignored():
    assert client_ip(_request("203.0.113.9")) == PROXY
    assert client_ip(_request()) == PROXY


@pytest.mark.parametrize(
    "count, xff, expected",
    [
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # what the client wrote is ignored
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (2, "203.0.113.9", "203.0.113.9"),  # fewer entries than proxies: the farthest seen
        (1, "203.0.113.9:51234", "203.0.113.9"),
        (1, "[2001:db8::1]:443", "2001:db8::1"),
        (1, "not-an-address", PROXY),
        (1, "", PROXY),
    ],
)
def test_behind_n_proxies_the_client_is_the_nth_address_from_the_right(count, xff, expected):
    with override_settings(TRUSTED_PROXY_COUNT=count):
        assert client_ip(_request(xff)) == expected


def test_ipv6_clients_are_counted_by_their_64_block():
    one = client_network(_request(remote="2001:db8:1:2::1"))
    assert one == client_network(_request(remote="2001:db8:1:2:ffff::9")) == "2001:db8:1:2::"
    assert client_network(_request(remote="2001:db8:1:3::1")) != one
    assert client_network(_request(remote="")) == "unknown"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_allauth_uses_the_same_rule():
    request = _request("6.6.6.6, 203.0.113.9")
    assert get_adapter(request).get_client_ip(request) == "203.0.113.9"


def test_the_throttle_key_is_a_keyed_hash_not_the_address():
    key = throttle.ip_hash(_request(remote="192.0.2.77"))
    assert len(key) == 64 and "192.0.2.77" not in key
    assert key != throttle.ip_hash(_request(remote="192.0.2.78"))


# --- failed logins (allauth: 10 a minute per IP) ---------------------------------------------


def _fail_ten_logins(client, *, xff_of):
    for n in range(10):
        user = UserFactory(email=f"victim{n}@example.com")
        response = client.post(
            "/accounts/login/",
            {"login": user.email, "password": "wrong"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=xff_of(n),
        )
        assert "_auth_user_id" not in client.session
        assert response.status_code == 200


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_ten_clients_failing_do_not_lock_out_an_eleventh(client):
    _fail_ten_logins(client, xff_of=lambda n: f"203.0.113.{n + 1}")
    user = UserFactory(email="right@example.com")
    response = client.post(
        "/accounts/login/",
        {"login": user.email, "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.50",
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=0)
def test_without_trusted_proxies_a_forged_header_does_not_dodge_the_login_limit(client):
    _fail_ten_logins(client, xff_of=lambda n: f"203.0.113.{n + 1}")
    user = UserFactory(email="right@example.com")
    response = client.post(
        "/accounts/login/",
        {"login": user.email, "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.50",
    )
    assert "_auth_user_id" not in client.session
    assert "登录失败次数过多" in response.content.decode()


# --- the portal's throttles: signing and course registration --------------------------------

SIGN_LIMIT = 3
COURSE_LIMIT = 10  # settings.COURSES_REGISTER_RATE


@pytest.fixture
def sign(client, settings):
    settings.PLEDGES_SIGN_RATE = (SIGN_LIMIT, 3600)
    initiative = InitiativeFactory(accepts_signatures=True)
    numbers = iter(range(10**6))

    def post(xff):
        data = {
            "kind": "individual",
            "ind-name": "李工程师",
            "ind-organisation": "某检验中心",
            "ind-province": "44",
            "ind-email": f"signer{next(numbers)}@example.com",
            "ind-privacy_consent": "on",
        }
        return client.post(
            f"/initiatives/{initiative.slug}/sign/",
            data,
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=xff,
        ).status_code

    return post


@pytest.fixture
def register(client, db):
    session = SessionFactory(capacity=None)
    numbers = iter(range(10**6))

    def post(xff):
        data = {
            "name": "陈质量",
            "email": f"visitor{next(numbers)}@example.com",
            "organisation": "某装备制造有限公司",
            "privacy_consent": "on",
        }
        return client.post(
            f"/courses/{session.pk}/register/",
            data,
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=xff,
        ).status_code

    return post


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=0)
def test_without_trusted_proxies_forged_headers_share_one_signing_bucket(sign):
    statuses = [sign(f"203.0.113.{n}") for n in range(SIGN_LIMIT + 1)]
    assert statuses == [302] * SIGN_LIMIT + [429]


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=0)
def test_without_trusted_proxies_forged_headers_share_one_registration_bucket(register):
    statuses = [register(f"203.0.113.{n}") for n in range(COURSE_LIMIT + 1)]
    assert statuses[:COURSE_LIMIT] == [302] * COURSE_LIMIT
    assert statuses[-1] == 429


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_two_clients_have_separate_signing_buckets(sign):
    # Client A forges a different leftmost address each time: still A's bucket.
    statuses = [sign(f"6.6.6.{n}, 198.51.100.7") for n in range(SIGN_LIMIT + 1)]
    assert statuses == [302] * SIGN_LIMIT + [429]
    assert sign("198.51.100.8") == 302  # client B
    assert sign("198.51.100.7") == 429  # A is still throttled


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_two_clients_have_separate_registration_buckets(register):
    statuses = [register(f"6.6.6.{n}, 198.51.100.7") for n in range(COURSE_LIMIT + 1)]
    assert statuses[:COURSE_LIMIT] == [302] * COURSE_LIMIT
    assert statuses[-1] == 429
    assert register("198.51.100.8") == 302  # client B
    assert register("198.51.100.7") == 429
