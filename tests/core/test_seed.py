import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_accounts(capsys):
    call_command("seed_demo")
    first = get_user_model().objects.count()
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert get_user_model().objects.count() == first
    assert "staff@caq.example.org" in out
    assert "member@example.com" in out


@pytest.mark.django_db
def test_seed_demo_mails_nobody_and_keeps_real_mail(mailoutbox, django_capture_on_commit_callbacks):
    from cqa_portal.core.models import OutboxMessage
    from cqa_portal.core.services import outbox_enqueue

    real = outbox_enqueue(
        key="real:1", purpose="real", to="a@example.com", subject="s", body="b", send_now=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo")
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [real.pk]
    assert mailoutbox == []
