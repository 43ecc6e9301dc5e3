import pytest

from cqa_portal.core import selectors, services
from tests.factories import StaffFactory, UserFactory


@pytest.mark.django_db
def test_audit_entries_record_who_when_from_to_why_and_show_in_admin(client):
    staff = StaffFactory()
    member = UserFactory(email="someone@example.com")
    services.audit_log(
        actor=staff,
        action="core.account.suspended",
        obj=member,
        from_state="active",
        to_state="suspended",
        detail="审核发现资料不实",
    )
    history = list(selectors.audit_history(obj=member))
    assert len(history) == 1
    entry = history[0]
    assert (entry.actor, entry.from_state, entry.to_state) == (staff, "active", "suspended")
    assert entry.created_at is not None

    client.force_login(staff)
    html = client.get(f"/admin/core/user/{member.pk}/change/").content.decode()
    assert "core.account.suspended" in html
    assert "审核发现资料不实" in html


@pytest.mark.django_db
def test_anonymous_actor_is_recorded_as_none():
    member = UserFactory()
    from django.contrib.auth.models import AnonymousUser

    entry = services.audit_log(actor=AnonymousUser(), action="x.y", obj=member)
    assert entry.actor is None
