"""Signed links in course mails.

- The confirmation link of a visitor's registration expires (``COURSES_CONFIRM_MAX_AGE``).
- The registration link (see the registration, cancel it, download its calendar entry with the
  join link) is in every mail and stays valid as long as the registration exists.
"""

from django.core import signing

from . import conf

_confirm_signer = signing.TimestampSigner(salt="courses.registration.confirm")
_manage_signer = signing.Signer(salt="courses.registration.manage")


class LinkInvalid(Exception):
    """The link was tampered with, truncated or belongs to nothing."""


class LinkExpired(LinkInvalid):
    """The link was genuine but is too old."""


def confirm_token(registration_id: int) -> str:
    return _confirm_signer.sign(str(registration_id))


def registration_id_from_confirm_token(token: str) -> int:
    try:
        value = _confirm_signer.unsign(token, max_age=conf.confirm_max_age())
    except signing.SignatureExpired as exc:
        raise LinkExpired from exc
    except signing.BadSignature as exc:
        raise LinkInvalid from exc
    return _as_id(value)


def manage_token(registration_id: int) -> str:
    return _manage_signer.sign(str(registration_id))


def registration_id_from_manage_token(token: str) -> int:
    try:
        value = _manage_signer.unsign(token)
    except signing.BadSignature as exc:
        raise LinkInvalid from exc
    return _as_id(value)


def _as_id(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:  # pragma: no cover - only a forged signature could get here
        raise LinkInvalid from exc
