"""Account writes: the sign-up's profile and the user's language."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone, translation

from .. import mail, privacy
from .audit import audit_log


@transaction.atomic
def account_signup_complete(*, user, name: str, at) -> None:
    """Store what the signup form adds to allauth's account: the name and privacy consent."""
    user.first_name = name.strip()[:150]
    user.privacy_consent_at = at
    user.privacy_consent_version = privacy.version()
    user.language = mail.mail_language(translation.get_language())
    user.save(
        update_fields=["first_name", "privacy_consent_at", "privacy_consent_version", "language"]
    )
    audit_log(actor=user, action="core.account.privacy_consented", obj=user)


@transaction.atomic
def account_privacy_accept(*, user, at=None) -> None:
    """A signed-in person accepts the current privacy notice (a new version was published)."""
    user.privacy_consent_at = at or timezone.now()
    user.privacy_consent_version = privacy.version()
    user.save(update_fields=["privacy_consent_at", "privacy_consent_version"])
    audit_log(
        actor=user,
        action="core.account.privacy_consented",
        obj=user,
        to_state=user.privacy_consent_version,
    )


def user_language_set(*, user, language: str) -> bool:
    """Remember the language a logged-in user chose: their mails are written in it."""
    code = mail.supported_language(language)
    if code is None or not getattr(user, "is_authenticated", False) or user.language == code:
        return False
    user.language = code
    user.save(update_fields=["language"])
    return True
