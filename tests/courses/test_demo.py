import pytest
from django.core.management import call_command
from django.utils import timezone

from courses import selectors
from courses.models import AttendanceRecord, Registration, Session, Topic
from cqa_portal.core.demo import MEMBER_EMAIL

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_the_2020_schedule_once(client):
    call_command("seed_demo")
    counts = (
        Session.objects.count(),
        Registration.objects.count(),
        AttendanceRecord.objects.count(),
        Topic.objects.count(),
    )
    call_command("seed_demo")
    assert (
        Session.objects.count(),
        Registration.objects.count(),
        AttendanceRecord.objects.count(),
        Topic.objects.count(),
    ) == counts

    held = Session.objects.filter(starts_at__year=2020)
    assert held.count() == 19
    assert {s.starts_at.month for s in held} == {2, 3}
    assert held.values("topic").distinct().count() == 5
    assert all(s.replay_url for s in held)
    assert timezone.localtime(max(s.starts_at for s in held)).date().isoformat() < "2020-03-20"
    totals = selectors.schedule_totals()
    assert totals["held"] == 19
    assert 65_000 <= totals["participants"] < 70_000  # "nearly 70,000 participant-times"

    response = client.get("/courses/")
    assert len(response.context["upcoming"]) == 4
    assert len(response.context["past_page"].object_list) == 19
    full = next(s for s in response.context["upcoming"] if s.capacity == 30)
    assert (full.confirmed_count, full.waiting_count) == (30, 3)


def test_demo_member_has_course_registrations_for_the_member_area():
    call_command("seed_demo")
    from django.contrib.auth import get_user_model

    member = get_user_model().objects.get(email=MEMBER_EMAIL)
    registrations = list(selectors.registrations_for_users(user_ids=[member.pk]))
    assert len(registrations) == 3
    assert all(r.status == "confirmed" for r in registrations)
    starts = [r.session.starts_at for r in registrations]
    assert starts == sorted(starts, reverse=True)
    assert sum(s > timezone.now() for s in starts) == 2
