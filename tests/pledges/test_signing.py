"""Sign → email → confirm → counted; bad input; duplicates; withdrawal; links."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core import signing
from django.test import override_settings
from django.utils import timezone

from cqa_portal.core import links
from cqa_portal.core.models import AuditEntry, OutboxMessage
from pledges import services
from pledges.models import Signature, SignatureTally
from tests.mails import app_callbacks

from .factories import PILOT_USCC, VALID_USCC, SignatureFactory

pytestmark = pytest.mark.django_db


def enterprise_data(**overrides):
    data = {
        "kind": "enterprise",
        "ent-organisation": "湖北示范精密制造有限公司",
        "ent-uscc": VALID_USCC,
        "ent-name": "王质量",
        "ent-title": "质量总监",
        "ent-province": "42",
        "ent-email": "Quality.Head@Example.com",
        "ent-show_name": "on",
        "ent-privacy_consent": "on",
    }
    data.update(overrides)
    return data


def individual_data(**overrides):
    data = {
        "kind": "individual",
        "ind-name": "李工程师",
        "ind-organisation": "某检验中心",
        "ind-province": "44",
        "ind-email": "li@example.com",
        "ind-show_name": "on",
        "ind-privacy_consent": "on",
    }
    data.update(overrides)
    return data


def sign(client, initiative, data, capture):
    with capture(execute=True):
        return client.post(f"/initiatives/{initiative.slug}/sign/", data)


def link_from(mail, name):
    match = re.search(rf"https?://[^/\s]+(/signatures/{name}/\S+/)", mail.body)
    assert match, mail.body
    return match.group(1)


def counts(client):
    html = client.get("/open-letter/").content.decode()
    return tuple(
        int(re.search(rf'id="count-{key}">(\d+)<', html).group(1))
        for key in ["total", "enterprises", "individuals"]
    )


def test_enterprise_signs_confirms_and_is_counted(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks
):
    response = sign(client, initiative, enterprise_data(), django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response["Location"] == f"/initiatives/{initiative.slug}/sign/thanks/"
    signature = Signature.objects.get()
    assert signature.status == Signature.Status.PENDING
    assert signature.email == "quality.head@example.com"
    assert signature.uscc == VALID_USCC and not signature.uscc_needs_review
    assert signature.title == "质量总监" and signature.province == "42"
    assert signature.consent_at is not None
    assert len(signature.ip_hash) == 64 and "127.0.0.1" not in signature.ip_hash
    assert counts(client) == (0, 0, 0)  # not counted before confirmation

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["quality.head@example.com"]
    assert "请确认" in mail.subject
    assert "湖北示范精密制造有限公司" in mail.body
    # Opening the link shows one button and changes nothing (mail scanners open links).
    ask = client.get(link_from(mail, "confirm"))
    assert ask.status_code == 200 and 'id="confirm-button"' in ask.content.decode()
    assert counts(client) == (0, 0, 0)
    confirm = client.post(link_from(mail, "confirm"))
    assert confirm.status_code == 200
    assert "签名已确认" in confirm.content.decode()
    signature.refresh_from_db()
    assert signature.status == Signature.Status.CONFIRMED and signature.confirmed_at
    assert counts(client) == (1, 1, 0)
    wall = client.get(f"/initiatives/{initiative.slug}/signatures/").content.decode()
    assert "湖北示范精密制造有限公司" in wall
    assert AuditEntry.objects.filter(action="pledges.signature.confirmed").count() == 1

    # The link again: already confirmed, counted once.
    again = client.post(link_from(mail, "confirm"))
    assert again.status_code == 200
    assert counts(client) == (1, 1, 0)


def test_individual_signs_without_public_name(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks
):
    data = individual_data()
    del data["ind-show_name"]
    sign(client, initiative, data, django_capture_on_commit_callbacks)
    signature = Signature.objects.get()
    assert signature.kind == "individual" and not signature.show_name
    assert signature.title == "" and signature.uscc == ""
    client.post(link_from(mailoutbox[0], "confirm"))
    assert counts(client) == (1, 0, 1)
    wall = client.get(f"/initiatives/{initiative.slug}/signatures/").content.decode()
    assert "李工程师" not in wall  # counted, not named


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("91110000600037341", "统一社会信用代码应为 18 位，当前为 17 位。"),
        ("91110000600037341I", "这不是有效的统一社会信用代码"),
        ("9111000060003734OL", "这不是有效的统一社会信用代码"),
    ],
)
def test_malformed_credit_code_is_refused_in_chinese_and_nothing_saved(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks, code, message
):
    response = sign(
        client,
        initiative,
        enterprise_data(**{"ent-uscc": code}),
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'id="id_ent-uscc_error"' in html
    assert not Signature.objects.exists()
    assert mailoutbox == []


def test_credit_code_failing_only_its_check_character_is_accepted_and_flagged(
    client, initiative, django_capture_on_commit_callbacks
):
    response = sign(
        client,
        initiative,
        enterprise_data(**{"ent-uscc": PILOT_USCC.lower() + " "}),
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 302
    signature = Signature.objects.get()
    assert signature.uscc == PILOT_USCC
    assert signature.uscc_needs_review is True


def test_credit_code_is_optional(client, initiative, django_capture_on_commit_callbacks):
    sign(
        client, initiative, enterprise_data(**{"ent-uscc": ""}), django_capture_on_commit_callbacks
    )
    assert Signature.objects.get().uscc == ""


def test_missing_consent_is_refused(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks
):
    data = individual_data()
    del data["ind-privacy_consent"]
    response = sign(client, initiative, data, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert "请阅读并同意隐私声明后继续。" in response.content.decode()
    assert not Signature.objects.exists() and mailoutbox == []


def test_missing_fields_and_bad_email_are_refused(
    client, initiative, django_capture_on_commit_callbacks
):
    response = sign(
        client,
        initiative,
        enterprise_data(**{"ent-title": "", "ent-email": "not-an-email", "ent-province": "99"}),
        django_capture_on_commit_callbacks,
    )
    html = response.content.decode()
    assert 'id="id_ent-title_error"' in html
    assert 'id="id_ent-email_error"' in html
    assert 'id="id_ent-province_error"' in html
    assert not Signature.objects.exists()


def test_unknown_kind_is_refused(client, initiative, django_capture_on_commit_callbacks):
    response = sign(client, initiative, {"kind": "robot"}, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert not Signature.objects.exists()


def test_honeypot_looks_like_success_but_stores_nothing(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks
):
    response = sign(
        client,
        initiative,
        individual_data(homepage_url="http://spam.example"),
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 302
    assert response["Location"] == f"/initiatives/{initiative.slug}/sign/thanks/"
    assert not Signature.objects.exists() and mailoutbox == []


def test_closed_or_unpublished_initiative_cannot_be_signed(
    client, initiative, django_capture_on_commit_callbacks
):
    initiative.accepts_signatures = False
    initiative.save()
    assert (
        sign(client, initiative, individual_data(), django_capture_on_commit_callbacks).status_code
        == 404
    )
    initiative.accepts_signatures = True
    initiative.is_published = False
    initiative.save()
    assert (
        sign(client, initiative, individual_data(), django_capture_on_commit_callbacks).status_code
        == 404
    )
    assert not Signature.objects.exists()


def test_signing_again_creates_no_duplicate_resends_throttled_and_answers_the_same(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks
):
    first = sign(client, initiative, individual_data(), django_capture_on_commit_callbacks)
    # Same address in other case, new details: no second row, details updated, no mail yet.
    second = sign(
        client,
        initiative,
        individual_data(**{"ind-email": "LI@example.com ", "ind-name": "李工"}),
        django_capture_on_commit_callbacks,
    )
    assert Signature.objects.count() == 1
    assert Signature.objects.get().name == "李工"
    assert len(mailoutbox) == 1  # re-send throttled
    # Someone unknown gets exactly the same answer.
    stranger = sign(
        client,
        initiative,
        individual_data(**{"ind-email": "stranger@example.com"}),
        django_capture_on_commit_callbacks,
    )
    assert first["Location"] == second["Location"] == stranger["Location"]
    thanks = [
        re.sub(
            r'name="csrfmiddlewaretoken" value="[^"]+"',
            "",
            client.get(r["Location"]).content.decode(),
        )
        for r in (first, second, stranger)
    ]
    assert thanks[0] == thanks[1] == thanks[2]

    # After the interval the confirmation is sent again, with a working link.
    with override_settings(PLEDGES_RESEND_INTERVAL=0):
        sign(client, initiative, individual_data(), django_capture_on_commit_callbacks)
    li_mails = [m for m in mailoutbox if m.to == ["li@example.com"]]
    assert len(li_mails) == 2
    assert client.post(link_from(li_mails[-1], "confirm")).status_code == 200
    assert Signature.objects.get(email="li@example.com").status == "confirmed"

    # Signing again once confirmed: a reminder with the withdraw link, still one row.
    with override_settings(PLEDGES_RESEND_INTERVAL=0):
        response = sign(
            client,
            initiative,
            individual_data(**{"ind-name": "冒名者"}),
            django_capture_on_commit_callbacks,
        )
    assert response["Location"] == first["Location"]
    reminder = [m for m in mailoutbox if m.to == ["li@example.com"]][-1]
    assert "已经签署" in reminder.subject
    assert "/signatures/withdraw/" in reminder.body
    assert Signature.objects.filter(email="li@example.com").count() == 1
    assert Signature.objects.get(email="li@example.com").name == "李工程师"  # confirmed: unchanged


def test_resends_stop_after_the_maximum(initiative, mailoutbox):
    data = services.SignatureInput(
        kind="individual", name="甲", email="a@example.com", province="11"
    )
    with override_settings(PLEDGES_RESEND_INTERVAL=0, PLEDGES_MAX_MAILS=3):
        outcomes = [services.signature_sign(initiative=initiative, data=data)[1] for _ in range(5)]
    assert [o.value for o in outcomes] == ["created", "resent", "resent", "throttled", "throttled"]
    assert OutboxMessage.objects.count() == 3


@override_settings(PLEDGES_SIGN_RATE=(3, 3600))
def test_per_ip_throttle_answers_429_with_a_readable_page(
    client, initiative, django_capture_on_commit_callbacks
):
    for n in range(3):
        response = sign(
            client,
            initiative,
            individual_data(**{"ind-email": f"p{n}@example.com"}),
            django_capture_on_commit_callbacks,
        )
        assert response.status_code == 302
    blocked = sign(
        client,
        initiative,
        individual_data(**{"ind-email": "p9@example.com"}),
        django_capture_on_commit_callbacks,
    )
    assert blocked.status_code == 429
    assert "请求过于频繁" in blocked.content.decode()
    assert Signature.objects.count() == 3
    # Another address is not affected.
    other = client.post(
        f"/initiatives/{initiative.slug}/sign/",
        individual_data(**{"ind-email": "q@example.com"}),
        REMOTE_ADDR="10.1.2.3",
    )
    assert other.status_code == 302


def test_throttle_keys_hold_a_hash_not_the_address(client, initiative):
    from django.core.cache import cache

    with mock.patch.object(cache, "add", wraps=cache.add) as add:
        client.post(
            f"/initiatives/{initiative.slug}/sign/", individual_data(), REMOTE_ADDR="10.9.8.7"
        )
    keys = [call.args[0] for call in add.call_args_list]
    assert keys
    assert not any("10.9.8.7" in key for key in keys)
    assert "10.9.8.7" not in Signature.objects.get().ip_hash


def _signed(initiative, **kwargs):
    return SignatureFactory(
        initiative=initiative, status=Signature.Status.PENDING, confirmed_at=None, **kwargs
    )


def test_expired_confirm_link_changes_nothing_and_offers_a_new_link(client, initiative):
    signature = _signed(initiative)
    token = links.make(services.CONFIRM_LINK, signature, at=timezone.now() - timedelta(days=8))
    response = client.get(f"/signatures/confirm/{token}/")
    assert response.status_code == 410
    html = response.content.decode()
    assert "此链接已过期" in html and 'data-state="expired"' in html
    assert f'action="/signatures/confirm/{token}/new-link/"' in html
    signature.refresh_from_db()
    assert signature.status == Signature.Status.PENDING


def test_confirm_link_expiry_follows_the_setting(client, initiative, settings):
    signature = _signed(initiative)
    token = links.make(services.CONFIRM_LINK, signature, at=timezone.now() - timedelta(days=2))
    settings.PLEDGES_CONFIRM_MAX_AGE_DAYS = 1
    assert client.get(f"/signatures/confirm/{token}/").status_code == 410
    settings.PLEDGES_CONFIRM_MAX_AGE_DAYS = 3
    assert client.post(f"/signatures/confirm/{token}/").status_code == 200
    signature.refresh_from_db()
    assert signature.status == Signature.Status.CONFIRMED


def test_expired_link_sends_a_new_confirmation_to_the_signers_address(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks
):
    signature = _signed(initiative, email="signer@example.com", confirmations_sent=1)
    old = timezone.now() - timedelta(days=8)
    Signature.objects.filter(pk=signature.pk).update(confirmation_sent_at=old)
    token = links.make(services.CONFIRM_LINK, signature, at=old)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/signatures/confirm/{token}/new-link/")
    assert response.status_code == 200
    assert "新的确认链接" in response.content.decode()
    assert [m.to for m in mailoutbox] == [["signer@example.com"]]
    assert client.post(link_from(mailoutbox[0], "confirm")).status_code == 200
    signature.refresh_from_db()
    assert signature.status == Signature.Status.CONFIRMED

    # Once confirmed, the old link says so instead of offering another mail.
    assert client.get(f"/signatures/confirm/{token}/").status_code == 200
    again = client.post(f"/signatures/confirm/{token}/new-link/")
    assert again.status_code == 410 and len(mailoutbox) == 1


def test_new_link_requests_are_limited(client, initiative, mailoutbox, settings):
    signature = _signed(initiative, confirmations_sent=1)
    old = timezone.now() - timedelta(days=8)
    token = links.make(services.CONFIRM_LINK, signature, at=old)
    # Within the resend interval: nothing is sent, the page says why.
    Signature.objects.filter(pk=signature.pk).update(confirmation_sent_at=timezone.now())
    response = client.post(f"/signatures/confirm/{token}/new-link/")
    assert response.status_code == 410 and "最近已向此地址发送" in response.content.decode()
    # The per-address throttle (core.throttle) stops a flood before the service is asked.
    settings.PLEDGES_SIGN_RATE = (2, 3600)
    statuses = [client.post(f"/signatures/confirm/{token}/new-link/").status_code for _ in "ab"]
    assert statuses[-1] == 429
    assert not OutboxMessage.objects.exists()


def test_revoked_confirm_link_says_it_was_replaced(client, initiative):
    signature = _signed(initiative)
    token = links.make(services.CONFIRM_LINK, signature)
    links.rotate_key(signature)
    response = client.get(f"/signatures/confirm/{token}/")
    assert response.status_code == 410
    assert 'data-state="revoked"' in response.content.decode()
    signature.refresh_from_db()
    assert signature.status == Signature.Status.PENDING
    assert (
        client.get(
            f"/signatures/confirm/{links.make(services.CONFIRM_LINK, signature)}/"
        ).status_code
        == 200
    )


@pytest.mark.parametrize("tamper", ["pk", "key", "signature", "garbage"])
def test_tampered_confirm_link_changes_nothing(client, initiative, tamper):
    signature = _signed(initiative)
    other = _signed(initiative)
    token = links.make(services.CONFIRM_LINK, signature)
    if tamper == "pk":
        value, _, rest = token.partition(".")
        token = f"{other.pk}.{rest}"
    elif tamper == "key":
        token = signing.Signer(salt="wrong").sign(f"{signature.pk}.{signature.link_key}.1")
    elif tamper == "signature":
        token = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    else:
        token = "not-a-token"
    response = client.get(f"/signatures/confirm/{token}/")
    assert response.status_code == 404
    assert "链接无效" in response.content.decode()
    assert "new-link" not in response.content.decode()
    assert not Signature.objects.filter(status=Signature.Status.CONFIRMED).exists()


def test_withdraw_token_cannot_confirm(client, initiative):
    signature = _signed(initiative)
    response = client.get(f"/signatures/confirm/{links.make(services.WITHDRAW_LINK, signature)}/")
    assert response.status_code == 404


def test_links_in_mails_sent_before_the_core_links_module_still_work(client, initiative):
    signature = _signed(initiative)
    payload = f"{signature.pk}.{signature.link_key}"
    old_confirm = signing.TimestampSigner(salt=services.CONFIRM_LINK.salt).sign(payload)
    old_withdraw = signing.Signer(salt=services.WITHDRAW_LINK.salt).sign(payload)
    assert client.get(f"/signatures/confirm/{old_confirm}/").status_code == 200
    # A withdraw link without an issue time is older than any lifetime: its page offers a new
    # one by mail.
    old = client.get(f"/signatures/withdraw/{old_withdraw}/")
    assert old.status_code == 410
    assert f'action="/signatures/withdraw/{old_withdraw}/new-link/"' in old.content.decode()


def test_withdraw_erases_personal_data_and_the_count_drops(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks
):
    sign(client, initiative, enterprise_data(), django_capture_on_commit_callbacks)
    mail = mailoutbox[0]
    client.post(link_from(mail, "confirm"))
    assert counts(client) == (1, 1, 0)

    withdraw_url = link_from(mail, "withdraw")
    page = client.get(withdraw_url)
    assert page.status_code == 200
    assert "撤回签名" in page.content.decode()
    assert counts(client) == (1, 1, 0)  # GET changes nothing (mail scanners follow links)

    done = client.post(withdraw_url)
    assert done.status_code == 200
    assert "已撤回" in done.content.decode()
    signature = Signature.objects.get()
    assert signature.status == Signature.Status.WITHDRAWN
    for field in ["name", "title", "organisation", "uscc", "province", "email", "ip_hash"]:
        assert getattr(signature, field) == "", field
    assert signature.consent_at is None and not signature.show_name
    assert signature.kind == "enterprise" and signature.withdrawn_at  # anonymous marker
    assert counts(client) == (0, 0, 0)
    assert not OutboxMessage.objects.filter(body__contains="王质量").exists()
    assert not AuditEntry.objects.filter(object_repr__contains="王质量").exists()
    wall = client.get(f"/initiatives/{initiative.slug}/signatures/").content.decode()
    assert "湖北示范精密制造有限公司" not in wall

    # The links keep answering clearly.
    assert client.post(withdraw_url).status_code == 200
    assert client.get(link_from(mail, "confirm")).status_code == 410

    # The address can sign again afterwards.
    sign(client, initiative, enterprise_data(), django_capture_on_commit_callbacks)
    assert Signature.objects.count() == 2


def test_unconfirmed_signature_can_be_withdrawn_too(client, initiative):
    signature = _signed(initiative)
    response = client.post(f"/signatures/withdraw/{links.make(services.WITHDRAW_LINK, signature)}/")
    assert response.status_code == 200
    signature.refresh_from_db()
    assert signature.status == Signature.Status.WITHDRAWN and signature.email == ""
    assert not SignatureTally.objects.filter(confirmed__lt=0).exists()


def test_tampered_withdraw_link_changes_nothing(client, initiative):
    signature = SignatureFactory(initiative=initiative)
    token = links.make(services.WITHDRAW_LINK, signature)[:-2] + "xx"
    assert client.post(f"/signatures/withdraw/{token}/").status_code == 404
    assert client.get(f"/signatures/withdraw/{token}/").status_code == 404
    signature.refresh_from_db()
    assert signature.status == Signature.Status.CONFIRMED and signature.name


def test_link_to_a_purged_signature_says_it_is_gone(client, initiative):
    signature = _signed(initiative)
    token = links.make(services.CONFIRM_LINK, signature)
    signature.delete()
    response = client.get(f"/signatures/confirm/{token}/")
    assert response.status_code == 410
    assert "签名已不存在" in response.content.decode()


def test_mail_goes_out_after_commit_only(
    initiative, mailoutbox, django_capture_on_commit_callbacks
):
    data = services.SignatureInput(
        kind="individual", name="乙", email="b@example.com", province="11"
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.signature_sign(initiative=initiative, data=data)
    assert mailoutbox == [] and len(app_callbacks(callbacks)) == 1
    assert OutboxMessage.objects.get().purpose == "pledges.signature.confirm"


def test_english_visitor_gets_english_mail_and_pages(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks
):
    client.cookies["django_language"] = "en"
    sign(client, initiative, individual_data(), django_capture_on_commit_callbacks)
    assert "Please confirm your signature" in mailoutbox[0].subject
    page = client.post(link_from(mailoutbox[0], "confirm")).content.decode()
    assert "Signature confirmed" in page


def test_expired_withdraw_link_offers_a_new_one_by_mail(
    client, initiative, mailoutbox, django_capture_on_commit_callbacks, settings
):
    signature = SignatureFactory(initiative=initiative, email="keep@example.com")
    days = settings.PLEDGES_WITHDRAW_LINK_MAX_AGE_DAYS
    old = links.make(
        services.WITHDRAW_LINK, signature, at=timezone.now() - timedelta(days=days + 1)
    )
    page = client.get(f"/signatures/withdraw/{old}/")
    assert page.status_code == 410
    html = page.content.decode()
    assert 'data-state="expired"' in html
    assert f'action="/signatures/withdraw/{old}/new-link/"' in html
    assert client.post(f"/signatures/withdraw/{old}/").status_code == 410  # nothing withdrawn
    signature.refresh_from_db()
    assert signature.status == Signature.Status.CONFIRMED

    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(f"/signatures/withdraw/{old}/new-link/")
    assert sent.status_code == 200 and 'id="link-resent"' in sent.content.decode()
    [mail] = mailoutbox
    assert mail.to == ["keep@example.com"]
    fresh = link_from(mail, "withdraw")
    assert client.get(fresh).status_code == 200
    assert client.post(fresh).status_code == 200
    signature.refresh_from_db()
    assert signature.status == Signature.Status.WITHDRAWN
