"""The mail outbox: checked rows written in the caller's transaction, their dispatch, opt-outs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.mail import BadHeaderError
from django.db import transaction
from django.utils import translation

from .. import mail
from ..models import MailOptOut, OutboxMessage
from .delivery import _email


def _outbox_row(message: dict, checked: dict[str, str]) -> OutboxMessage:
    """An unsaved outbox row for ``message`` (``outbox_enqueue``'s arguments), checked: a mail
    that cannot be built raises PortalError here, before anything is written, instead of being
    written, reported as sent and failing in the worker. ``checked`` caches checked subjects."""
    subject = message["subject"]
    if subject not in checked:
        checked[subject] = mail.checked_subject(subject)[:255]
    mail.check_recipient(message["to"])
    return OutboxMessage(
        key=message["key"][:255],
        purpose=message["purpose"],
        to=message["to"],
        subject=checked[subject],
        body=message["body"],
        html_body=message.get("html_body", ""),
        language=mail.mail_language(message.get("language") or translation.get_language()),
        list_kind=message.get("list_kind", ""),
        attachment=message.get("attachment", ""),
        deadline=message.get("deadline"),
    )


_ROW_FIELDS = (
    "purpose", "to", "subject", "body", "html_body", "language", "list_kind", "attachment",
    "deadline",
)  # fmt: skip


@transaction.atomic
def outbox_enqueue(
    *,
    key: str,
    purpose: str,
    to: str,
    subject: str,
    body: str,
    html_body: str = "",
    language: str = "",
    list_kind: str = "",
    attachment: str = "",
    deadline: datetime | None = None,
    send_now: bool = True,
) -> OutboxMessage:
    """Write one mail to the outbox, once per ``key``; send it after commit.

    Calling it again with the same key returns the existing row and writes nothing.
    With ``send_now`` false the row waits for a batch sender or the sweep. ``language`` is the
    recipient's (default: the active one, in which the caller composed the mail): the From name
    is written in it. A mail that cannot be built (a line break in the subject, an invalid
    address) raises PortalError and writes nothing. ``list_kind`` and ``attachment``: see
    ``outbox_enqueue_many`` (opt-outs are honoured there, by the bulk senders, only).
    ``deadline``: a mail that makes sense only until then ("starts in one hour", "today") is
    never sent after it; every sender marks it expired instead.
    """
    row = _outbox_row(
        {
            "key": key,
            "purpose": purpose,
            "to": to,
            "subject": subject,
            "body": body,
            "html_body": html_body,
            "language": language,
            "list_kind": list_kind,
            "attachment": attachment,
            "deadline": deadline,
        },
        {},
    )
    try:
        _email(row).message()
    except (BadHeaderError, ValueError) as exc:
        raise mail.unbuildable() from exc
    message, created = OutboxMessage.objects.get_or_create(
        key=row.key,
        defaults={field: getattr(row, field) for field in _ROW_FIELDS},
    )
    if created and send_now:
        from ..tasks import outbox_send_task

        outbox_send_task.delay_on_commit(message.pk)
    return message


@transaction.atomic
def outbox_enqueue_many(*, messages: Iterable[dict], batch_size: int = 500) -> list[int]:
    """Write many mails at once (dicts of ``outbox_enqueue``'s arguments, without ``send_now``).

    Rows whose key already exists are left alone, as with ``outbox_enqueue``. Nothing is sent:
    returns the ids of the rows with the given keys that are still pending, for the caller to
    pass in chunks to ``outbox_send_many`` after commit (or leave to the sweep). Two queries
    per ``batch_size`` mails (three with bulk mails). Any mail that cannot be built raises
    PortalError (the caller's transaction then writes nothing).

    A bulk mail names its ``list_kind`` (``mail.LIST_KINDS``): it is not written for a
    recipient who opted out of that kind, and it is sent with one-click unsubscribe headers.
    ``attachment`` is a reference the outbox turns into an attachment at send time
    (``mail.register_attachment``), so rows stay small. ``deadline``: see ``outbox_enqueue``.
    """
    ids: list[int] = []
    batch: list[OutboxMessage] = []
    checked: dict[str, str] = {}

    def flush() -> None:
        kinds = {m.list_kind for m in batch if m.list_kind}
        if kinds:
            opted_out = set(
                MailOptOut.objects.filter(
                    kind__in=kinds, email__in={m.to.lower() for m in batch if m.list_kind}
                ).values_list("email", "kind")
            )
            if opted_out:
                batch[:] = [m for m in batch if (m.to.lower(), m.list_kind) not in opted_out]
            if not batch:
                return
        OutboxMessage.objects.bulk_create(batch, ignore_conflicts=True)
        ids.extend(
            OutboxMessage.objects.filter(
                key__in=[m.key for m in batch], status=OutboxMessage.Status.PENDING
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        batch.clear()

    for message in messages:
        batch.append(_outbox_row(message, checked))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return ids


def outbox_dispatch(*, message_ids: list[int], batch_size: int = 300, window: int = 20) -> int:
    """The one way bulk mail leaves: after commit, the written rows are sent in chunks of
    ``batch_size``, each by one mail-queue task over one SMTP connection, claiming ``window``
    rows per statement. Returns the number of tasks."""
    from ..tasks import outbox_send_many_task

    batches = 0
    for start in range(0, len(message_ids), batch_size):
        outbox_send_many_task.delay_on_commit(message_ids[start : start + batch_size], window)
        batches += 1
    return batches


@transaction.atomic
def mail_opt_out(*, token: str) -> MailOptOut | None:
    """One-click unsubscribe: the recipient of the outbox row ``token`` names no longer gets
    that row's kind of bulk mail. Safe to repeat; None if the token is not valid (or the row,
    older than the retention period, is gone)."""
    message_id = mail.unsubscribe_message_id(token)
    message = (
        OutboxMessage.objects.filter(pk=message_id).exclude(list_kind="").first()
        if message_id is not None
        else None
    )
    if message is None:
        return None
    opt_out, _created = MailOptOut.objects.get_or_create(
        email=message.to.lower(), kind=message.list_kind
    )
    return opt_out
