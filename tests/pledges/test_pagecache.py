"""The open letter's page cache: exact counts, per-visitor CSRF tokens, safe fallbacks."""

import re
from unittest import mock

import pytest
from django.test import Client

from pledges import services

from .factories import SignatureFactory

pytestmark = pytest.mark.django_db


def _token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_second_anonymous_visit_runs_no_query(client, letter, django_assert_num_queries):
    client.get("/open-letter/")
    with django_assert_num_queries(0):
        response = client.get("/open-letter/")
    assert letter.title in response.content.decode()


def test_each_visitor_gets_a_working_csrf_token_from_the_cached_page(letter):
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    html_1 = first.get("/open-letter/").content.decode()
    html_2 = second.get("/open-letter/").content.decode()
    assert "pledges-csrf-" not in html_1 + html_2
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


def test_logged_in_and_query_string_visits_are_rendered_afresh(
    client, letter, django_assert_num_queries
):
    client.get("/open-letter/")
    with django_assert_num_queries(6):
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
