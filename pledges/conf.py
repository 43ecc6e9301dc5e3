"""The pledges app's settings: one typed, read-only view of the ``PLEDGES_*`` Django settings.

The names and their defaults (with environment overrides) are declared in
``cqa_portal/settings/base.py``; code reads them only through ``conf.get()``, which builds the
view from the settings of the moment (so ``override_settings`` in tests takes effect).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings


@dataclass(frozen=True)
class PledgesSettings:
    # A confirmation link works this many days.
    confirm_max_age_days: int
    # Signing again (or asking for a new link) re-sends the confirmation at most this often ...
    resend_interval: timedelta
    # ... and at most this many mails go to one signature in all.
    max_mails: int
    # Per-IP throttle: (requests, window in seconds) for signing, for co-sign applications and
    # for requests of a new confirmation link. Generous enough for one office network.
    sign_rate: tuple[int, int]
    cosign_rate: tuple[int, int]
    # A withdraw link works this many days (its page then offers a new one by mail).
    withdraw_link_max_age_days: int
    wall_page_size: int

    @property
    def confirm_max_age(self) -> timedelta:
        return timedelta(days=self.confirm_max_age_days)

    @property
    def withdraw_link_max_age(self) -> timedelta:
        return timedelta(days=self.withdraw_link_max_age_days)


def _rate(value) -> tuple[int, int]:
    count, window = value
    return int(count), int(window)


def get() -> PledgesSettings:
    return PledgesSettings(
        confirm_max_age_days=int(settings.PLEDGES_CONFIRM_MAX_AGE_DAYS),
        resend_interval=timedelta(seconds=int(settings.PLEDGES_RESEND_INTERVAL)),
        max_mails=int(settings.PLEDGES_MAX_MAILS),
        sign_rate=_rate(settings.PLEDGES_SIGN_RATE),
        cosign_rate=_rate(settings.PLEDGES_COSIGN_RATE),
        withdraw_link_max_age_days=int(settings.PLEDGES_WITHDRAW_LINK_MAX_AGE_DAYS),
        wall_page_size=int(settings.PLEDGES_WALL_PAGE_SIZE),
    )
