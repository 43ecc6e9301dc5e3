"""Real threads on PostgreSQL: double clicks and simultaneous signings stay exact."""

import threading

import pytest
from django.db import connection

from cqa_portal.core.models import AuditEntry, OutboxMessage
from pledges import services
from pledges.models import Signature, SignatureTally

from .factories import InitiativeFactory, SignatureFactory

THREADS = 8


def _run(target):
    barrier = threading.Barrier(THREADS)
    errors: list[Exception] = []

    def work(n):
        try:
            barrier.wait()
            target(n)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_the_same_confirm_link_clicked_at_once_counts_once(postgres):
    initiative = InitiativeFactory()
    signature = SignatureFactory(initiative=initiative, status="pending", confirmed_at=None)
    _run(lambda n: services.signature_confirm(
        signature_id=signature.pk, link_key=signature.link_key))  # fmt: skip
    assert SignatureTally.objects.get(initiative=initiative).confirmed == 1
    assert AuditEntry.objects.filter(action="pledges.signature.confirmed").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_email_signing_at_once_makes_one_row(postgres):
    initiative = InitiativeFactory()
    data = services.SignatureInput(
        kind="individual", name="并发", email="race@example.com", province="42"
    )
    _run(lambda n: services.signature_sign(initiative=initiative, data=data))
    assert Signature.objects.filter(initiative=initiative).count() == 1
    assert OutboxMessage.objects.filter(to="race@example.com").count() == 1


@pytest.mark.django_db(transaction=True)
def test_different_signatures_confirmed_at_once_share_one_exact_counter(postgres):
    initiative = InitiativeFactory()
    signatures = [
        SignatureFactory(initiative=initiative, status="pending", confirmed_at=None)
        for _ in range(THREADS)
    ]
    _run(lambda n: services.signature_confirm(
        signature_id=signatures[n].pk, link_key=signatures[n].link_key))  # fmt: skip
    tally = SignatureTally.objects.get(initiative=initiative)
    assert (tally.confirmed, tally.public) == (THREADS, THREADS)
