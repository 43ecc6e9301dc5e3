"""Signature mails: confirmation and withdrawal links, and when a signer may be mailed again."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from cqa_portal.core import links, mail, retention
from cqa_portal.core.services import outbox_enqueue
from cqa_portal.core.site import absolute_url

from .. import conf
from ..models import (
    CONFIRM_LINK,
    WITHDRAW_LINK,
    Signature,
)


def _mail_key(signature_id: int, number: int) -> str:
    return f"pledges.signature:{signature_id}:{number}"


def _signature_mail_keys(signature_ids) -> list[str]:
    most = conf.get().max_mails + 1
    return [_mail_key(pk, n) for pk in signature_ids for n in range(1, most + 1)]


def signature_links(signature: Signature, *, at=None) -> dict:
    """The confirm and withdraw links, opening in the signer's language."""
    lang = signature.language

    def url(name: str, purpose: links.LinkPurpose) -> str:
        token = links.make(purpose, signature, at=at)
        return mail.with_language(absolute_url(reverse(name, kwargs={"token": token})), lang)

    return {
        "confirm_url": url("pledges:confirm", CONFIRM_LINK),
        "withdraw_url": url("pledges:withdraw", WITHDRAW_LINK),
    }


def _send_signature_mail(
    *, signature: Signature, template: str, to: str, at, lang: str | None = None
) -> None:
    """One mail about a signature, in the signer's language (``lang``: the recipient's, when
    not the signer)."""
    lang = lang or signature.language
    signature.confirmations_sent += 1
    signature.confirmation_sent_at = at
    signature.save(update_fields=["confirmations_sent", "confirmation_sent_at"])
    context = {
        "signature": signature,
        "initiative": signature.initiative,
        "confirm_days": conf.get().confirm_max_age_days,
        "withdraw_days": conf.get().withdraw_link_max_age_days,
        "kept_days": retention.get().unconfirmed_signature_days,
        "portal": settings.PORTAL,
        **signature_links(signature, at=at),
    }
    outbox_enqueue(
        key=_mail_key(signature.pk, signature.confirmations_sent),
        purpose=f"pledges.signature.{template}",
        to=to,
        **mail.render_mail(template=f"pledges/mail/{template}", context=context, lang=lang),
    )


def _may_mail_again(signature: Signature, at) -> bool:
    if signature.confirmations_sent >= conf.get().max_mails:
        return False
    last = signature.confirmation_sent_at
    return last is None or at - last >= conf.get().resend_interval
