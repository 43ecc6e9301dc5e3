"""Signed links in the portal's mails: the one way every app makes and checks them.

A link token is ``<object id>.<object's link key>.<issued>`` signed with ``SECRET_KEY`` and a salt
per purpose (``django.core.signing``), so it cannot be guessed or forged and a token of one purpose
never opens another. The object's random link key (a ``link_key`` field) is compared in constant
time: rotating the key (``rotate_key``) revokes every link issued for the object. ``issued`` is
the time the link counts from, checked against the purpose's ``max_age``.

A purpose may name the object's field that holds the issue time (``issued_field``): the link is
then the same whenever it is made (an invitation's link on the invitee's page is the one in the
mail), and it expires that long after the field's time, not after the page was shown.

``check`` tells the page what happened (``LinkState``), with the object when the link was genuine,
so the page can say the link expired or was used up (410) or is not valid (404), and offer a new
one where the portal can send it.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core import signing
from django.db import models
from django.utils import timezone

MAX_ID = 2**63 - 1  # the largest primary key; a larger number would overflow the query


def new_key() -> str:
    """A random link key (about 72 bits)."""
    return secrets.token_urlsafe(12)


class LinkState(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"  # genuine, but older than the purpose allows
    REVOKED = "revoked"  # genuine, but its key was rotated or its object is gone (used up)
    INVALID = "invalid"  # tampered, truncated, of another purpose: nothing to say about it

    @property
    def http_status(self) -> int:
        return {"valid": 200, "expired": 410, "revoked": 410, "invalid": 404}[self.value]


@dataclass(frozen=True)
class LinkPurpose:
    """One kind of link: its salt, the model it opens and how long it works."""

    salt: str
    model: type[models.Model]
    # None: the link never expires (only the one-click unsubscribe link: opting out must always
    # work). Every link that changes something else expires.
    max_age: Callable[[], timedelta | None] = field(default=lambda: None)
    key_field: str = "link_key"
    # The object's field with the time the link counts from; None: the time it is made.
    issued_field: str | None = None
    # A time of the object after which the link no longer works, whenever it was issued (e.g. a
    # course registration's link: when the session ends); None: only ``max_age`` applies.
    expires_at: Callable[[models.Model], datetime | None] | None = None
    select_related: tuple[str, ...] = ()

    def _signer(self) -> signing.Signer:
        return signing.Signer(salt=self.salt)


@dataclass(frozen=True)
class LinkCheck:
    state: LinkState
    # The object the link belongs to, when the link is genuine and the object still exists
    # (also for EXPIRED and REVOKED: the page may offer to send a new link).
    obj: models.Model | None = None

    @property
    def ok(self) -> bool:
        return self.state is LinkState.VALID

    @property
    def http_status(self) -> int:
        return self.state.http_status


def make(purpose: LinkPurpose, obj: models.Model, *, at: datetime | None = None) -> str:
    """The token of ``obj``'s link for ``purpose``; it counts from ``at`` (default: the
    purpose's ``issued_field`` of the object, else now)."""
    if at is None and purpose.issued_field:
        at = getattr(obj, purpose.issued_field)
    return token(purpose, pk=obj.pk, key=getattr(obj, purpose.key_field), at=at)


def token(purpose: LinkPurpose, *, pk: int, key: str, at: datetime | None = None) -> str:
    """``make`` for a row read as values (bulk mails): its id, link key and issue time."""
    if not key:
        raise ValueError(f"object {pk} has no {purpose.key_field}: no link can be made for it")
    stamp = signing.b62_encode(int((at or timezone.now()).timestamp()))
    return purpose._signer().sign(f"{pk}.{key}.{stamp}")


def _parse(value: str) -> tuple[int, str, int | None] | None:
    """(id, key, issued) of a token's value; also the two older formats still in mails sent
    before this module: ``id.key:issued`` (confirm) and ``id.key`` (withdraw, never expires)."""
    pk, _, rest = value.partition(".")
    if ":" in rest:
        key, _, stamp = rest.partition(":")
    elif "." in rest:
        key, _, stamp = rest.rpartition(".")
    else:
        key, stamp = rest, ""
    if not pk.isdigit() or len(pk) > 19 or int(pk) > MAX_ID or not key:
        return None
    if not stamp:
        return int(pk), key, None
    try:
        return int(pk), key, signing.b62_decode(stamp)
    except (ValueError, IndexError):
        return None


def check(
    purpose: LinkPurpose, token: str, *, queryset=None, now: datetime | None = None
) -> LinkCheck:
    """What the token opens. Revoked (or gone) before expired: a rotated key says more."""
    try:
        value = purpose._signer().unsign(token or "")
    except signing.BadSignature:
        return LinkCheck(LinkState.INVALID)
    parsed = _parse(value)
    if parsed is None:
        return LinkCheck(LinkState.INVALID)
    pk, key, issued = parsed
    rows = queryset if queryset is not None else purpose.model._default_manager.all()
    if purpose.select_related:
        rows = rows.select_related(*purpose.select_related)
    obj = rows.filter(pk=pk).first()
    if obj is None:
        return LinkCheck(LinkState.REVOKED)
    current = getattr(obj, purpose.key_field) or ""
    if not secrets.compare_digest(current.encode(), key.encode()):
        return LinkCheck(LinkState.REVOKED, obj)
    max_age = purpose.max_age()
    now = now or timezone.now()
    if max_age is not None and (
        issued is None or now.timestamp() - issued > max_age.total_seconds()
    ):
        return LinkCheck(LinkState.EXPIRED, obj)
    until = purpose.expires_at(obj) if purpose.expires_at else None
    if until is not None and now >= until:
        return LinkCheck(LinkState.EXPIRED, obj)
    return LinkCheck(LinkState.VALID, obj)


def rotate_key(obj: models.Model, *, key_field: str = "link_key", save: bool = True) -> str:
    """Revoke every link of ``obj``: give it a new random key."""
    key = new_key()
    setattr(obj, key_field, key)
    if save and obj.pk is not None:
        type(obj)._default_manager.filter(pk=obj.pk).update(**{key_field: key})
    return key
