"""The one signed-link module (cqa_portal.core.links), for every kind of link the portal mails:
valid, expired, revoked (a new key), tampered, of another purpose; the same token whenever a
stable link is made."""

from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from courses.models import CONFIRM_LINK as COURSE_CONFIRM
from courses.models import MANAGE_LINK as COURSE_MANAGE
from cqa_portal.core import links
from cqa_portal.core.links import LinkState
from members.models import INVITATION_LINK, Invitation
from pledges.models import CONFIRM_LINK as PLEDGE_CONFIRM
from pledges.models import WITHDRAW_LINK as PLEDGE_WITHDRAW
from tests.courses.factories import RegistrationFactory
from tests.members.factories import CompanyFactory
from tests.pledges.factories import SignatureFactory

pytestmark = pytest.mark.django_db

# Every kind: its purpose, a factory for its object, and how long its link works (None: no age
# limit; the course registration link ends with its session instead, see below).
KINDS = {
    "pledge confirm": (PLEDGE_CONFIRM, SignatureFactory, timedelta(days=7)),
    "pledge withdraw": (PLEDGE_WITHDRAW, SignatureFactory, timedelta(days=90)),
    "course confirm": (COURSE_CONFIRM, RegistrationFactory, timedelta(hours=48)),
    "course registration": (COURSE_MANAGE, RegistrationFactory, None),
    "invitation": (
        INVITATION_LINK,
        lambda: Invitation.objects.create(company=CompanyFactory(), email="i@example.com"),
        timedelta(days=14),
    ),
}


@pytest.fixture(params=list(KINDS))
def kind(request):
    purpose, make_obj, max_age = KINDS[request.param]
    return purpose, make_obj(), max_age


def test_valid_link_opens_its_object(kind):
    purpose, obj, _max_age = kind
    check = links.check(purpose, links.make(purpose, obj))
    assert check.state is LinkState.VALID and check.ok and check.obj.pk == obj.pk
    assert check.http_status == 200


def test_old_link_expires_only_where_the_purpose_says(kind):
    purpose, obj, max_age = kind
    issued = timezone.now() - timedelta(days=400)
    if purpose.issued_field:
        type(obj).objects.filter(pk=obj.pk).update(**{purpose.issued_field: issued})
        obj.refresh_from_db()
        token = links.make(purpose, obj)
    else:
        token = links.make(purpose, obj, at=issued)
    check = links.check(purpose, token)
    if max_age is None:
        assert check.state is LinkState.VALID
    else:
        assert check.state is LinkState.EXPIRED and check.http_status == 410
        assert check.obj.pk == obj.pk  # the page may offer a new link
        # Just inside the limit it still works.
        fresh_at = timezone.now() - max_age + timedelta(minutes=1)
        if purpose.issued_field:
            type(obj).objects.filter(pk=obj.pk).update(**{purpose.issued_field: fresh_at})
            obj.refresh_from_db()
            assert links.check(purpose, links.make(purpose, obj)).ok
        else:
            assert links.check(purpose, links.make(purpose, obj, at=fresh_at)).ok


def test_course_registration_link_works_until_the_session_ends():
    registration = RegistrationFactory()
    token = links.make(COURSE_MANAGE, registration)
    ends = registration.session.ends_at
    assert links.check(COURSE_MANAGE, token, now=ends - timedelta(minutes=1)).ok
    late = links.check(COURSE_MANAGE, token, now=ends)
    assert late.state is LinkState.EXPIRED and late.obj.pk == registration.pk


def test_rotating_the_key_revokes_every_link_of_the_object(kind):
    purpose, obj, _max_age = kind
    token = links.make(purpose, obj)
    old_key = obj.link_key
    links.rotate_key(obj)
    obj.refresh_from_db()
    assert obj.link_key != old_key
    check = links.check(purpose, token)
    assert check.state is LinkState.REVOKED and check.http_status == 410
    assert check.obj.pk == obj.pk
    assert links.check(purpose, links.make(purpose, obj)).ok


def test_link_of_a_deleted_object_is_revoked(kind):
    purpose, obj, _max_age = kind
    token = links.make(purpose, obj)
    type(obj).objects.filter(pk=obj.pk).delete()
    check = links.check(purpose, token)
    assert check.state is LinkState.REVOKED and check.obj is None


@pytest.mark.parametrize("how", ["signature", "id", "key", "truncated", "garbage", "empty"])
def test_tampered_link_is_invalid(kind, how):
    purpose, obj, _max_age = kind
    other = type(obj).objects.exclude(pk=obj.pk).first()
    token = links.make(purpose, obj)
    value, _, sig = token.rpartition(":")
    forged = {
        "signature": f"{value}:{sig[:-2]}{'aa' if not sig.endswith('aa') else 'bb'}",
        "id": f"{(other.pk if other else obj.pk + 1)}{value[len(str(obj.pk)) :]}:{sig}",
        "key": signing.Signer(salt=purpose.salt + ".x").sign(f"{obj.pk}.{obj.link_key}.1"),
        "truncated": token[: len(token) // 2],
        "garbage": "not-a-link",
        "empty": "",
    }[how]
    check = links.check(purpose, forged)
    assert check.state is LinkState.INVALID and check.obj is None and check.http_status == 404


def test_a_link_never_opens_another_purpose():
    signature = SignatureFactory()
    registration = RegistrationFactory()
    assert not links.check(PLEDGE_CONFIRM, links.make(PLEDGE_WITHDRAW, signature)).ok
    assert not links.check(PLEDGE_WITHDRAW, links.make(PLEDGE_CONFIRM, signature)).ok
    assert not links.check(COURSE_MANAGE, links.make(COURSE_CONFIRM, registration)).ok
    assert not links.check(COURSE_CONFIRM, links.make(COURSE_MANAGE, registration)).ok


def test_stable_links_are_the_same_whenever_they_are_made(kind):
    purpose, obj, _max_age = kind
    if not purpose.issued_field:
        pytest.skip("this link counts from the moment it is mailed")
    first = links.make(purpose, obj)
    later = timezone.now() + timedelta(hours=5)
    from unittest import mock

    with mock.patch("django.utils.timezone.now", return_value=later):
        assert links.make(purpose, type(obj).objects.get(pk=obj.pk)) == first


def test_every_new_object_gets_its_own_key():
    a, b = RegistrationFactory(), RegistrationFactory()
    assert a.link_key and b.link_key and a.link_key != b.link_key
    i = Invitation.objects.create(company=CompanyFactory(), email="a@example.com")
    j = Invitation.objects.create(company=CompanyFactory(), email="b@example.com")
    assert i.link_key != j.link_key


def test_huge_ids_in_a_genuine_signature_are_invalid_not_a_crash():
    for pk in (2**63, 10**30):
        token = signing.Signer(salt=COURSE_MANAGE.salt).sign(f"{pk}.key.1")
        assert links.check(COURSE_MANAGE, token).state is LinkState.INVALID
