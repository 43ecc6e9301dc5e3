"""Tunable limits of the pledges app, each overridable by a Django setting of the same name."""

from django.conf import settings

DEFAULTS = {
    # A confirmation link works this many days.
    "PLEDGES_CONFIRM_MAX_AGE_DAYS": 7,
    # Signing again re-sends the confirmation at most this often (seconds) ...
    "PLEDGES_RESEND_INTERVAL": 600,
    # ... and at most this many mails go to one signature in all.
    "PLEDGES_MAX_MAILS": 5,
    # Per-IP throttle: (requests, window in seconds) for signing and for co-sign applications.
    # Generous enough for colleagues signing from one office network.
    "PLEDGES_SIGN_RATE": (20, 3600),
    "PLEDGES_COSIGN_RATE": (5, 3600),
    # Privacy notice: unconfirmed signatures and IP hashes are deleted after this many days.
    "PLEDGES_RETENTION_DAYS": 30,
    "PLEDGES_WALL_PAGE_SIZE": 50,
}


def get(name: str):
    return getattr(settings, name, DEFAULTS[name])
