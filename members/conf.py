"""The members app's settings: one typed, read-only view of the ``MEMBERS_*`` Django settings.

The names and their defaults (with environment overrides) are declared in
``cqa_portal/settings/base.py``; code reads them only through ``conf.get()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings


@dataclass(frozen=True)
class MembersSettings:
    # An invitation link works this long after the invitation was made.
    invitation_max_age: timedelta
    # New invitations a company may send in 24 hours.
    invitations_per_day: int


def get() -> MembersSettings:
    return MembersSettings(
        invitation_max_age=timedelta(days=int(settings.MEMBERS_INVITATION_MAX_AGE_DAYS)),
        invitations_per_day=int(settings.MEMBERS_INVITATIONS_PER_DAY),
    )
