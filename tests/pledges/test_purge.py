"""The beat job keeps the privacy notice's promises."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from cqa_portal.core.models import OutboxMessage
from pledges import services
from pledges.models import CoSignature, Signature
from pledges.tasks import signatures_purge_task

from .factories import CoSignatureFactory, SignatureFactory

pytestmark = pytest.mark.django_db


def _age(obj, days):
    type(obj).objects.filter(pk=obj.pk).update(created_at=timezone.now() - timedelta(days=days))


def test_purge_deletes_old_unconfirmed_signatures_their_mails_and_old_ip_hashes(initiative):
    old, _ = services.signature_sign(
        initiative=initiative,
        data=services.SignatureInput(
            kind="individual", name="旧", email="old@example.com", province="11"
        ),
        ip_hash="a" * 64,
    )
    recent = SignatureFactory(
        initiative=initiative, status="pending", confirmed_at=None, ip_hash="b" * 64
    )
    confirmed_old = SignatureFactory(initiative=initiative, ip_hash="c" * 64)
    application = CoSignatureFactory(ip_hash="d" * 64)
    for obj in (old, confirmed_old, application):
        _age(obj, 31)
    assert OutboxMessage.objects.filter(to="old@example.com").exists()

    result = signatures_purge_task()
    assert result == {"unconfirmed_deleted": 1, "ip_hashes_erased": 2, "rejected_erased": 0}
    assert not Signature.objects.filter(pk=old.pk).exists()
    assert not OutboxMessage.objects.filter(to="old@example.com").exists()
    recent.refresh_from_db()
    confirmed_old.refresh_from_db()
    assert recent.ip_hash == "b" * 64  # young: kept
    assert confirmed_old.ip_hash == "" and confirmed_old.status == "confirmed"
    assert CoSignature.objects.get(pk=application.pk).ip_hash == ""
    # Re-runnable: nothing more to do.
    assert services.signatures_purge() == {
        "unconfirmed_deleted": 0,
        "ip_hashes_erased": 0,
        "rejected_erased": 0,
    }


def test_purge_keeps_unconfirmed_signatures_younger_than_30_days(initiative):
    young = SignatureFactory(initiative=initiative, status="pending", confirmed_at=None)
    _age(young, 29)
    services.signatures_purge()
    assert Signature.objects.filter(pk=young.pk).exists()


def test_beat_schedule_runs_the_purge_daily():
    from cqa_portal.celery import app

    entry = app.conf.beat_schedule["pledges-signatures-purge"]
    assert entry["task"] == "pledges.signatures.purge"
    assert entry["task"] in app.tasks


def test_seed_demo_is_idempotent_and_complete(capsys):
    from pledges.models import Alliance, AllianceMember, CoSignature, OpenLetter, SignatureTally

    call_command("seed_demo")
    counts = (
        Signature.objects.count(),
        AllianceMember.objects.count(),
        CoSignature.objects.count(),
    )
    call_command("seed_demo")
    assert counts == (
        Signature.objects.count(),
        AllianceMember.objects.count(),
        CoSignature.objects.count(),
    )
    letter = OpenLetter.objects.get()
    assert letter.commitments.count() == 3 and letter.initiative.items.count() == 3
    assert letter.title_en and letter.body_en
    assert all(c.text_en for c in letter.commitments.all())
    alliance = Alliance.objects.get()
    assert alliance.founded_on.isoformat() == "2020-03-13"
    assert alliance.members.count() == 16
    assert alliance.members.filter(is_sample=True).count() == 15
    assert alliance.members.get(is_sample=False).name == "中国质量协会"
    assert alliance.initiative.items.count() == 5
    confirmed = Signature.objects.filter(status="confirmed")
    assert confirmed.count() >= 200
    assert confirmed.filter(kind="enterprise").exists()
    assert confirmed.filter(kind="individual").exists()
    assert confirmed.values("province").distinct().count() >= 10
    assert Signature.objects.filter(status="pending").exists()
    assert sum(SignatureTally.objects.values_list("confirmed", flat=True)) == confirmed.count()
    assert list(CoSignature.objects.order_by("status").values_list("status", flat=True)) == [
        "approved",
        "approved",
        "pending",
    ]
