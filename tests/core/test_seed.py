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
