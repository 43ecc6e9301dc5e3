"""Signed links in signature mails: confirm (expires) and withdraw (never expires: withdrawing
consent must stay possible). Each carries the signature's id and its random link key, so a link
cannot be guessed or forged without SECRET_KEY and stops working when the row is gone."""

from datetime import timedelta

from django.core import signing

from . import conf

CONFIRM_SALT = "pledges.signature.confirm"
WITHDRAW_SALT = "pledges.signature.withdraw"


class LinkInvalid(Exception):
    """Tampered, truncated or otherwise unreadable link."""


class LinkExpired(LinkInvalid):
    """A genuine link that is too old."""


def _payload(signature) -> str:
    return f"{signature.pk}.{signature.link_key}"


def _parse(value: str) -> tuple[int, str]:
    pk, _, key = value.partition(".")
    if not pk.isdigit() or not key:
        raise LinkInvalid
    return int(pk), key


def confirm_token(signature) -> str:
    return signing.TimestampSigner(salt=CONFIRM_SALT).sign(_payload(signature))


def withdraw_token(signature) -> str:
    return signing.Signer(salt=WITHDRAW_SALT).sign(_payload(signature))


def read_confirm_token(token: str) -> tuple[int, str]:
    max_age = timedelta(days=conf.get("PLEDGES_CONFIRM_MAX_AGE_DAYS"))
    try:
        value = signing.TimestampSigner(salt=CONFIRM_SALT).unsign(token, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise LinkExpired from exc
    except signing.BadSignature as exc:
        raise LinkInvalid from exc
    return _parse(value)


def read_withdraw_token(token: str) -> tuple[int, str]:
    try:
        value = signing.Signer(salt=WITHDRAW_SALT).unsign(token)
    except signing.BadSignature as exc:
        raise LinkInvalid from exc
    return _parse(value)
