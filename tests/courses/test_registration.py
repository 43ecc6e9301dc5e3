import re
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from courses import services
from courses.models import CONFIRM_LINK, MANAGE_LINK, Registration, Session
from cqa_portal.core import links
from cqa_portal.core.models import AuditEntry, OutboxMessage
from tests.factories import UserFactory

from .factories import RegistrationFactory, SessionFactory

pytestmark = pytest.mark.django_db

VISITOR = {
    "name": "陈质量",
    "email": "Chen.Quality@Example.com",
    "organisation": "某装备制造有限公司",
    "privacy_consent": "on",
}


def _link(mail, path, *, ics=False):
    for match in re.finditer(rf"http://\S+{path}\S+", mail.body):
        if match.group(0).endswith(".ics") == ics:
            return match.group(0).replace("http://127.0.0.1:8000", "")
    raise AssertionError(mail.body)


def test_logged_in_user_registers_with_one_click(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory(email="member@example.com")
    session = SessionFactory()
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/courses/{session.pk}/register/", follow=True)
    assert response.status_code == 200
    registration = Registration.objects.get()
    assert registration.user == user
    assert registration.status == Registration.Status.CONFIRMED
    assert registration.email == "member@example.com"
    assert "报名成功" in response.content.decode()
    assert session.join_url in response.content.decode()
    [mail] = mailoutbox
    assert mail.to == ["member@example.com"]
    assert session.join_url in mail.body
    assert "/calendar.ics" in mail.body
    assert "/courses/registration/" in mail.body
    assert AuditEntry.objects.filter(action="courses.registration.registered").count() == 1


def test_second_click_makes_no_duplicate(client, mailoutbox, django_capture_on_commit_callbacks):
    user = UserFactory()
    session = SessionFactory()
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/courses/{session.pk}/register/")
        response = client.post(f"/courses/{session.pk}/register/", follow=True)
    assert Registration.objects.count() == 1
    assert len(mailoutbox) == 1
    assert "您已报名本场课程" in response.content.decode()


def test_visitor_registers_and_confirms_by_email(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    session = SessionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/courses/{session.pk}/register/", VISITOR, follow=True)
    assert "确认链接" in response.content.decode()
    registration = Registration.objects.get()
    assert registration.status == Registration.Status.PENDING
    assert registration.email == "chen.quality@example.com"  # one address, one registration
    assert registration.privacy_consent_at is not None
    [request_mail] = mailoutbox
    assert session.join_url not in request_mail.body  # not before the address is confirmed
    confirm_path = _link(request_mail, "/courses/confirm/")

    ask = client.get(confirm_path)  # one button; opening the link changes nothing
    assert 'id="confirm-button"' in ask.content.decode()
    assert Registration.objects.get().status == Registration.Status.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(confirm_path)
    assert response.status_code == 200
    assert "报名已确认" in response.content.decode()
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CONFIRMED
    assert registration.confirmed_at is not None
    confirmed_mail = mailoutbox[1]
    assert session.join_url in confirmed_mail.body
    assert "/calendar.ics" in confirmed_mail.body

    # Following the link again changes nothing and sends nothing.
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(confirm_path)
    assert "已经确认" in again.content.decode()
    assert "已经确认" in client.get(confirm_path).content.decode()
    assert len(mailoutbox) == 2


def test_visitor_form_needs_consent_and_valid_email(client):
    session = SessionFactory()
    response = client.post(
        f"/courses/{session.pk}/register/",
        {**VISITOR, "email": "not-an-address", "privacy_consent": ""},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "请阅读并同意隐私声明" in html
    assert "输入一个有效的 Email 地址" in html
    assert not Registration.objects.exists()


def test_visitor_registering_twice_gets_no_duplicate(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    session = SessionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/courses/{session.pk}/register/", VISITOR)
        client.post(
            f"/courses/{session.pk}/register/", {**VISITOR, "email": "chen.quality@example.com"}
        )
    assert Registration.objects.count() == 1
    assert len(mailoutbox) == 1  # a second link only after five minutes


def test_already_confirmed_visitor_gets_a_reminder_mail_not_a_new_row(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    session = SessionFactory()
    RegistrationFactory(session=session, email="chen.quality@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/courses/{session.pk}/register/", VISITOR, follow=True)
    # Same answer as for a new address: the form tells nobody who is registered.
    assert "确认链接" in response.content.decode()
    assert Registration.objects.count() == 1
    assert "您已报名" in mailoutbox[0].subject


def test_expired_confirmation_link_says_so_and_offers_a_new_one(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    session = SessionFactory()
    registration = RegistrationFactory(
        session=session, status=Registration.Status.PENDING, email="late@example.com"
    )
    token = links.make(CONFIRM_LINK, registration, at=timezone.now() - timedelta(hours=49))
    response = client.get(f"/courses/confirm/{token}/")
    assert response.status_code == 410
    html = response.content.decode()
    assert "此链接已过期" in html and "您的报名尚未确认" in html
    assert f'action="/courses/confirm/{token}/new-link/"' in html
    registration.refresh_from_db()
    assert registration.status == Registration.Status.PENDING

    # Within five minutes of the last mail: refused with the reason, nothing sent.
    too_soon = client.post(f"/courses/confirm/{token}/new-link/")
    assert too_soon.status_code == 410 and "几分钟前" in too_soon.content.decode()
    assert mailoutbox == []

    Registration.objects.filter(pk=registration.pk).update(
        updated_at=timezone.now() - timedelta(minutes=10)
    )
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(f"/courses/confirm/{token}/new-link/")
    assert sent.status_code == 200 and "新的确认链接" in sent.content.decode()
    assert [m.to for m in mailoutbox] == [["late@example.com"]]
    new_path = re.search(r"(/courses/confirm/[^/\s]+/)", mailoutbox[0].body).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(new_path).status_code == 200
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CONFIRMED
    # The expired link now shows the confirmed registration instead of a problem.
    assert client.get(f"/courses/confirm/{token}/").status_code == 200


def test_confirmation_link_expiry_follows_the_setting(client, settings):
    registration = RegistrationFactory(status=Registration.Status.PENDING)
    token = links.make(CONFIRM_LINK, registration, at=timezone.now() - timedelta(hours=3))
    settings.COURSES_CONFIRM_MAX_AGE = 2 * 3600
    assert client.get(f"/courses/confirm/{token}/").status_code == 410
    settings.COURSES_CONFIRM_MAX_AGE = 4 * 3600
    assert client.get(f"/courses/confirm/{token}/").status_code == 200


def test_new_confirmation_links_are_throttled_per_address(client, settings):
    registration = RegistrationFactory(status=Registration.Status.PENDING)
    token = links.make(CONFIRM_LINK, registration, at=timezone.now() - timedelta(hours=49))
    settings.COURSES_REGISTER_RATE = (2, 600)
    statuses = [client.post(f"/courses/confirm/{token}/new-link/").status_code for _ in "abc"]
    assert statuses[-1] == 429


def test_revoked_registration_links_say_so(client):
    registration = RegistrationFactory(status=Registration.Status.PENDING)
    confirm, manage = links.make(CONFIRM_LINK, registration), links.make(MANAGE_LINK, registration)
    links.rotate_key(registration)
    for path in (f"/courses/confirm/{confirm}/", f"/courses/registration/{manage}/"):
        response = client.get(path)
        assert response.status_code == 410
        assert 'data-state="revoked"' in response.content.decode()
    registration.refresh_from_db()
    assert registration.status == Registration.Status.PENDING


def test_registration_link_is_the_same_in_every_mail_and_page(client):
    registration = RegistrationFactory()
    assert links.make(MANAGE_LINK, registration) == links.make(
        MANAGE_LINK, Registration.objects.get(pk=registration.pk)
    )


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "1:abc:def",
        signing.TimestampSigner(salt="other").sign("1"),
        signing.TimestampSigner(salt=CONFIRM_LINK.salt).sign("1"),  # the old id-only format
    ],
)
def test_tampered_confirmation_link_says_so(client, token):
    RegistrationFactory(status=Registration.Status.PENDING)
    response = client.get(f"/courses/confirm/{token}/")
    assert response.status_code == 404
    assert "链接无效" in response.content.decode()
    assert "new-link" not in response.content.decode()


def test_cancelled_session_refuses_registration(client):
    session = SessionFactory(status=Session.Status.CANCELLED)
    user = UserFactory()
    client.force_login(user)
    response = client.post(f"/courses/{session.pk}/register/", follow=True)
    assert "本场课程已取消" in response.content.decode()
    assert not Registration.objects.exists()


def test_past_session_refuses_registration(client):
    start = timezone.now() - timedelta(days=2)
    session = SessionFactory(starts_at=start, ends_at=start + timedelta(hours=1))
    response = client.post(f"/courses/{session.pk}/register/", VISITOR, follow=True)
    assert "本场课程已结束" in response.content.decode()
    assert not Registration.objects.exists()


def test_confirming_after_the_session_was_cancelled_is_refused(client):
    session = SessionFactory()
    registration = RegistrationFactory(session=session, status=Registration.Status.PENDING)
    Session.objects.filter(pk=session.pk).update(status=Session.Status.CANCELLED)
    response = client.get(f"/courses/confirm/{links.make(CONFIRM_LINK, registration)}/")
    assert response.status_code == 410
    assert "本场课程已取消" in response.content.decode()


def test_full_session_puts_registrants_on_the_waiting_list_in_order(mailoutbox, send_after_commit):
    session = SessionFactory(capacity=2)
    users = UserFactory.create_batch(4)
    outcomes = [
        send_after_commit(
            services.registration_register_user, session_id=session.pk, user=u, language="zh-hans"
        )
        for u in users
    ]
    assert [o.status for o in outcomes] == ["confirmed", "confirmed", "waiting", "waiting"]
    assert [o.place for o in outcomes[2:]] == [1, 2]
    waiting_mail = mailoutbox[2]
    assert "候补" in waiting_mail.subject
    assert session.join_url not in waiting_mail.body
    assert "第 1 位" in waiting_mail.body


def test_cancelling_promotes_the_first_waiting_and_tells_them(mailoutbox, send_after_commit):
    session = SessionFactory(capacity=1)
    first, second, third = UserFactory.create_batch(3)
    for user in (first, second, third):
        send_after_commit(
            services.registration_register_user, session_id=session.pk, user=user, language="en"
        )
    mailoutbox.clear()
    seat = Registration.objects.get(user=first)
    send_after_commit(services.registration_cancel, registration_id=seat.pk, actor=first)
    statuses = dict(Registration.objects.values_list("user__email", "status"))
    assert statuses == {
        first.email: "cancelled",
        second.email: "confirmed",
        third.email: "waiting",
    }
    subjects = {m.to[0]: m.subject for m in mailoutbox}
    assert subjects[first.email].startswith(
        "[China Association for Quality] Registration cancelled"
    )
    assert subjects[second.email].startswith("[China Association for Quality] You have a seat")
    promoted_mail = next(m for m in mailoutbox if m.to == [second.email])
    assert session.join_url in promoted_mail.body
    assert third.email not in subjects
    entry = AuditEntry.objects.get(action="courses.registration.promoted")
    assert (entry.from_state, entry.to_state) == ("waiting", "confirmed")


def test_cancel_link_in_the_mail_asks_before_cancelling(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    session = SessionFactory(capacity=1)
    with django_capture_on_commit_callbacks(execute=True):
        registration = services.registration_register_user(
            session_id=session.pk, user=UserFactory(), language="zh-hans"
        ).registration
    path = _link(mailoutbox[0], "/courses/registration/")
    assert not path.endswith(".ics")
    page = client.get(path)  # a mail scanner opening the link cancels nothing
    assert page.status_code == 200
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CONFIRMED
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, follow=True)
    assert "您的报名已取消" in response.content.decode()
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CANCELLED
    assert mailoutbox[-1].subject.startswith("[中国质量协会] 报名已取消")


def test_tampered_cancel_link_is_refused(client):
    registration = RegistrationFactory()
    token = links.make(MANAGE_LINK, registration)
    forged = token[:-2] + ("aa" if not token.endswith("aa") else "bb")
    assert client.post(f"/courses/registration/{forged}/").status_code == 404
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CONFIRMED


def test_user_cancels_from_the_session_page_and_can_register_again(
    client, django_capture_on_commit_callbacks
):
    user = UserFactory()
    session = SessionFactory()
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/courses/{session.pk}/register/")
        client.post(f"/courses/{session.pk}/cancel/")
    assert Registration.objects.get().status == Registration.Status.CANCELLED
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/courses/{session.pk}/register/")
    assert Registration.objects.get().status == Registration.Status.CONFIRMED  # same row


def test_registration_ics_link_carries_the_join_link_only_when_confirmed(client):
    session = SessionFactory()
    confirmed = RegistrationFactory(session=session)
    waiting = RegistrationFactory(session=session, status=Registration.Status.WAITING)
    ok = client.get(f"/courses/registration/{links.make(MANAGE_LINK, confirmed)}/calendar.ics")
    assert ok.status_code == 200
    assert session.join_url in ok.content.decode().replace("\r\n ", "")
    queued = client.get(f"/courses/registration/{links.make(MANAGE_LINK, waiting)}/calendar.ics")
    assert session.join_url not in queued.content.decode().replace("\r\n ", "")


def test_visitor_requests_are_throttled_per_address(client):
    session = SessionFactory()
    for i in range(10):
        client.post(f"/courses/{session.pk}/register/", {**VISITOR, "email": f"v{i}@example.com"})
    response = client.post(
        f"/courses/{session.pk}/register/", {**VISITOR, "email": "x@example.com"}
    )
    assert response.status_code == 429
    assert Registration.objects.count() == 10


def test_outbox_keys_make_each_registration_mail_once():
    session = SessionFactory()
    user = UserFactory()
    services.registration_register_user(session_id=session.pk, user=user, language="zh-hans")
    services.registration_register_user(session_id=session.pk, user=user, language="zh-hans")
    assert OutboxMessage.objects.filter(purpose="courses.registration.confirmed").count() == 1


def test_people_waiting_are_served_before_a_newcomer_when_seats_appear(
    mailoutbox, send_after_commit
):
    session = SessionFactory(capacity=1)
    RegistrationFactory(session=session, position=1)
    waiting = RegistrationFactory(session=session, position=2, status=Registration.Status.WAITING)
    Session.objects.filter(pk=session.pk).update(capacity=2)  # raised outside the admin
    outcome = send_after_commit(
        services.registration_register_user,
        session_id=session.pk,
        user=UserFactory(),
        language="zh-hans",
    )
    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.CONFIRMED
    assert outcome.status == Registration.Status.WAITING


def test_registration_link_ends_with_the_session(client):
    registration = RegistrationFactory()
    token = links.make(MANAGE_LINK, registration)
    assert client.get(f"/courses/registration/{token}/").status_code == 200
    ended = timezone.now() - timedelta(minutes=1)
    Session.objects.filter(pk=registration.session_id).update(
        starts_at=ended - timedelta(hours=1), ends_at=ended
    )
    response = client.get(f"/courses/registration/{token}/")
    assert response.status_code == 410
    assert 'data-state="expired"' in response.content.decode()
    assert client.post(f"/courses/registration/{token}/").status_code == 410
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CONFIRMED
