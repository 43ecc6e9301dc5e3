"""Outbox delivery: building each mail, sending with retries and backoff, sweeping and purging."""

from __future__ import annotations

import logging
import smtplib
import socket
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import SafeMIMEText
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .. import mail
from ..models import OutboxMessage
from .audit import audit_log

logger = logging.getLogger(__name__)

# Backoff for temporary failures, in seconds, by attempt number (last value repeats).
RETRY_BACKOFF = [60, 300, 900, 3600, 3 * 3600]


def _email(message: OutboxMessage, *, connection=None, attachments=None) -> EmailMultiAlternatives:
    """The mail of an outbox row: text and (if any) HTML, From the portal's name in the row's
    language, Reply-To the service address; a bulk mail's unsubscribe link and headers; its
    attachment made now from the row's reference (``attachments`` caches them for a batch).
    No header holds anything internal: the Message-ID is a keyed hash."""
    headers = {"Message-ID": message_id_header(message)}
    body, html_body = message.body, message.html_body
    if message.list_kind and message.pk:
        url = mail.unsubscribe_url(message.pk, message.language)
        body = body.replace(mail.UNSUBSCRIBE_MARK, url)
        html_body = html_body.replace(mail.UNSUBSCRIBE_MARK, url)
        headers["List-Unsubscribe"] = f"<{url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=body,
        from_email=_from_email(message.language),
        to=[message.to],
        reply_to=[mail.reply_to()],
        connection=connection,
        headers=headers,
    )
    if html_body:
        email.attach_alternative(html_body, "text/html")
    if message.attachment:
        part = _attachment(message, {} if attachments is None else attachments)
        if part is not None:
            email.attach(part)
    return email


def _attachment(message: OutboxMessage, cache: dict) -> SafeMIMEText | None:
    key = (message.attachment, message.language)
    if key not in cache:
        with mail.language(message.language):
            cache[key] = mail.build_attachment(message.attachment)
    built = cache[key]
    if built is None:
        return None
    filename, text, subtype, params = built
    part = SafeMIMEText(text, subtype, "utf-8")
    for name, value in params.items():
        part.set_param(name, value)
    part.add_header("Content-Disposition", "attachment", filename=filename)
    return part


_FROM_CACHE: dict[tuple[str, str], str] = {}


def _from_email(language: str) -> str:
    key = (settings.DEFAULT_FROM_EMAIL, language)
    if key not in _FROM_CACHE:
        _FROM_CACHE[key] = mail.from_email(language)
    return _FROM_CACHE[key]


def message_id_header(message: OutboxMessage) -> str:
    """The same Message-ID every time this outbox row is sent. If a worker dies after the SMTP
    server accepted a mail but before the row was marked sent, the retry is a retransmission of
    the same message, which mail systems recognise as such, not a second mail. The digest is
    keyed (the key names the recipient: a plain hash could be checked against a guess)."""
    digest = salted_hmac("cqa_portal.core.outbox.message-id", message.key).hexdigest()[:24]
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "localhost"
    return f"<outbox.{message.pk}.{digest}@{domain}>"


def _is_temporary(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return all(400 <= code < 500 for code in codes)
    return isinstance(exc, OSError | socket.timeout | smtplib.SMTPServerDisconnected)


def _record_failure(message: OutboxMessage, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if _is_temporary(exc) and message.attempts < settings.OUTBOX_MAX_ATTEMPTS:
        delay = RETRY_BACKOFF[min(message.attempts, len(RETRY_BACKOFF)) - 1]
        OutboxMessage.objects.filter(pk=message.pk).update(
            status=OutboxMessage.Status.PENDING,
            last_error=error,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )
        logger.warning("outbox %s: temporary failure, retry in %ss: %s", message.pk, delay, error)
    else:
        OutboxMessage.objects.filter(pk=message.pk).update(
            status=OutboxMessage.Status.FAILED, last_error=error
        )
        logger.error("outbox %s: permanent failure: %s", message.pk, error)


def _mark_sent_and_claim(*, sent: list[int], claim: list[int]) -> set[int]:
    """One statement: mark the mails just sent as sent and claim the next ones.

    Returns the ids of ``claim`` that were claimed (others are sent, failed or held elsewhere).
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.OUTBOX_STALE_CLAIM_SECONDS)
    ops = connection.ops
    table = ops.quote_name(OutboxMessage._meta.db_table)
    sent, claim = sent or [-1], claim or [-1]
    in_sent = "id IN (" + ", ".join(["%s"] * len(sent)) + ")"
    in_either = "id IN (" + ", ".join(["%s"] * (len(sent) + len(claim))) + ")"
    now_db, stale_db = ops.adapt_datetimefield_value(now), ops.adapt_datetimefield_value(stale)
    status = OutboxMessage.Status
    sql = (
        f"UPDATE {table} SET "  # noqa: S608 - placeholders only; the table name is ours
        f"status = CASE WHEN {in_sent} THEN %s ELSE %s END, "
        f"sent_at = CASE WHEN {in_sent} THEN %s ELSE sent_at END, "
        f"last_error = CASE WHEN {in_sent} THEN '' ELSE last_error END, "
        f"claimed_at = CASE WHEN {in_sent} THEN claimed_at ELSE %s END, "
        f"attempts = CASE WHEN {in_sent} THEN attempts ELSE attempts + 1 END "
        # The primary key alone selects the rows (the planner must not scan the due index).
        f"WHERE {in_either} AND ({in_sent} "
        "OR (status = %s AND next_attempt_at <= %s) OR (status = %s AND claimed_at < %s)) "
        "RETURNING id"
    )
    params = [
        *sent, status.SENT, status.SENDING,
        *sent, now_db,
        *sent,
        *sent, now_db,
        *sent,
        *sent, *claim, *sent, status.PENDING, now_db, status.SENDING, stale_db,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = {row[0] for row in cursor.fetchall()}
    return returned & set(claim)


@contextmanager
def _fast_commits():
    """On PostgreSQL, do not wait for the WAL flush of each per-mail update (asynchronous
    commit). A killed worker loses nothing (the database has the commit); only a crash of the
    database server itself could forget the last fraction of a second of "sent" marks."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def outbox_send_many(*, message_ids: Iterable[int], window: int = 1) -> int:
    """Send the given messages over one SMTP connection; returns how many were sent.

    Messages are claimed just before they are sent and marked sent right after, so a retried
    batch skips what is already sent or still claimed, and a killed worker leaves at most
    ``window`` messages in doubt (claimed, perhaps sent, not marked: the stale-claim sweep sends
    them again). The batch is read in one query; then one statement per ``window`` messages
    marks the previous ones sent and claims the next ones. ``window=1`` (the default) is a
    statement per mail; bulk senders (reminders to thousands) pass a few dozen so that the
    queries grow with batches, not recipients.
    """
    ids = list(dict.fromkeys(message_ids))
    if not ids:
        return 0
    messages = OutboxMessage.objects.in_bulk(ids)
    queue = [pk for pk in ids if pk in messages]
    attachments: dict = {}
    window = max(int(window), 1)
    sent = 0
    smtp = None
    unmarked: list[int] = []  # sent, not yet marked
    try:
        with _fast_commits():
            for start in range(0, len(queue), window):
                claimed = _mark_sent_and_claim(sent=unmarked, claim=queue[start : start + window])
                unmarked = []
                for message_id in queue[start : start + window]:
                    if message_id not in claimed:
                        continue
                    message = messages[message_id]
                    message.attempts += 1
                    try:
                        if smtp is None:
                            smtp = get_connection()
                            smtp.open()
                        _email(message, connection=smtp, attachments=attachments).send()
                    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
                        _record_failure(message, exc)
                        if smtp is not None:
                            smtp.close()
                            smtp = None
                        continue
                    unmarked.append(message_id)
                    sent += 1
            if unmarked:
                _mark_sent_and_claim(sent=unmarked, claim=[])
                unmarked = []
    finally:
        if smtp is not None:
            smtp.close()
    return sent


def outbox_send(*, message_id: int) -> bool:
    return outbox_send_many(message_ids=[message_id]) == 1


def outbox_due_ids(*, limit: int = 500) -> list[int]:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.OUTBOX_STALE_CLAIM_SECONDS)
    return list(
        OutboxMessage.objects.filter(
            Q(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now)
            | Q(status=OutboxMessage.Status.SENDING, claimed_at__lt=stale)
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def outbox_sweep(*, batch_size: int = 300) -> int:
    """Send everything still pending (broker was down, temporary failure due again)."""
    total = 0
    while ids := outbox_due_ids(limit=batch_size):
        sent = outbox_send_many(message_ids=ids)
        total += sent
        if sent == 0:
            break
    return total


def outbox_purge(*, older_than_days: int | None = None, at=None) -> int:
    """Delete sent mails older than the retention period stated in the privacy notice
    (``core.retention``: ``sent_mail_days``)."""
    from .. import retention

    if older_than_days is None:
        older_than_days = retention.get().sent_mail_days
    cutoff = (at or timezone.now()) - timedelta(days=older_than_days)
    deleted, _ = OutboxMessage.objects.filter(
        status=OutboxMessage.Status.SENT, sent_at__lt=cutoff
    ).delete()
    return deleted


@transaction.atomic
def outbox_retry(*, message_ids: Iterable[int], actor=None) -> int:
    """Staff put failed mails back in the queue."""
    messages = list(
        OutboxMessage.objects.select_for_update().filter(
            pk__in=list(message_ids), status=OutboxMessage.Status.FAILED
        )
    )
    for message in messages:
        message.status = OutboxMessage.Status.PENDING
        message.attempts = 0
        message.next_attempt_at = timezone.now()
        message.save(update_fields=["status", "attempts", "next_attempt_at"])
        audit_log(
            actor=actor,
            action="core.outbox.retried",
            obj=message,
            from_state=OutboxMessage.Status.FAILED,
            to_state=OutboxMessage.Status.PENDING,
        )
        from ..tasks import outbox_send_task

        outbox_send_task.delay_on_commit(message.pk)
    return len(messages)
