"""Demo accounts for `seed_demo`. Idempotent."""

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from . import privacy

STAFF_EMAIL = "staff@caq.example.org"
STAFF_PASSWORD = "cqa-staff-2020"  # noqa: S105 - demo data, printed by seed_demo
MEMBER_EMAIL = "member@example.com"
MEMBER_PASSWORD = "cqa-member-2020"  # noqa: S105 - demo data, printed by seed_demo


def _account(*, email: str, password: str, name: str, staff: bool):
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        email=email,
        defaults={
            "username": email.split("@")[0],
            "first_name": name,
            "is_staff": staff,
            "is_superuser": staff,
            "privacy_consent_at": timezone.now(),
            "privacy_consent_version": privacy.version(),
        },
    )
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


@transaction.atomic
def seed(stdout) -> dict:
    staff = _account(email=STAFF_EMAIL, password=STAFF_PASSWORD, name="协会工作人员", staff=True)
    member = _account(email=MEMBER_EMAIL, password=MEMBER_PASSWORD, name="张明", staff=False)
    return {"staff": staff, "member": member}
