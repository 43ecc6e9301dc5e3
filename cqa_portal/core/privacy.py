"""The privacy notice's version: every stored consent records which version was accepted
(``consent_version`` fields), and a signed-in person whose accepted version is older than the
current one is asked to accept the current notice again (``PrivacyNoticeMiddleware``).

Publishing a new notice: change the text in ``core/privacy.html`` and raise
``PRIVACY_NOTICE_VERSION`` (e.g. the date it takes effect) in the same release.
"""

from __future__ import annotations

from django.conf import settings


def version() -> str:
    """The current notice's version."""
    return str(settings.PRIVACY_NOTICE_VERSION)


def needs_acceptance(user) -> bool:
    """A signed-in person who has not accepted the current notice (or none at all)."""
    return bool(getattr(user, "is_authenticated", False)) and (
        getattr(user, "privacy_consent_version", "") != version()
    )
