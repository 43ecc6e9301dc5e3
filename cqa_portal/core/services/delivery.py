"""Outbox delivery: building each mail, sending with retries and backoff, sweeping and purging."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

from billiard.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import SafeMIMEText
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .. import mail
from ..models import OutboxMessage
from .audit import audit_log

logger = logging.getLogger(__name__)

# Backoff for temporary failures, in seconds, by attempt number (last value repeats). Short at
# first: mail waiting for a server that was unreachable is also retried as soon as the sweep
# finds it answering again (``outbox_retry_unreachable``).
RETRY_BACKOFF = [30, 60, 120, 300, 900, 3600]


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


def _is_refusal(exc: BaseException) -> bool:
    """The server answered and refused the mail permanently (5xx): the only failure that is not
    retried. Everything else (4xx, the server unreachable, a time limit, a bug) may be retried:
    the mail was not accepted, or whether it was is unknown."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return bool(codes) and not all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


# The prefix of ``last_error`` when no SMTP answer was had (server down, connection lost,
# time limit): the sweep retries such mail as soon as the server answers again.
UNREACHABLE = "unreachable: "


def _record_failure(message: OutboxMessage, exc: BaseException) -> None:
    """The mail was not accepted (or whether it was is unknown): back to pending with a backoff,
    unless the server refused it permanently or it ran out of attempts (then failed)."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    answered = isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused)
    if not answered:
        error = UNREACHABLE + error
    if not _is_refusal(exc) and message.attempts < settings.OUTBOX_MAX_ATTEMPTS:
        delay = RETRY_BACKOFF[min(message.attempts, len(RETRY_BACKOFF)) - 1]
        OutboxMessage.objects.filter(pk=message.pk).update(
            status=OutboxMessage.Status.PENDING,
            last_error=error,
            claimed_at=None,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )
        logger.warning("outbox %s: not sent, retry in %ss: %s", message.pk, delay, error)
    else:
        OutboxMessage.objects.filter(pk=message.pk).update(
            status=OutboxMessage.Status.FAILED, last_error=error
        )
        logger.error("outbox %s: permanent failure: %s", message.pk, error)


EXPIRED_NOTE = "expired: its deadline passed before it could be sent"


def _claim(ids: list[int]) -> set[int]:
    """One statement: claim the given rows that are due (pending and due, or claimed by a
    worker that died), and expire instead those whose deadline has passed. Returns the ids
    claimed for sending."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.OUTBOX_STALE_CLAIM_SECONDS)
    ops = connection.ops
    table = ops.quote_name(OutboxMessage._meta.db_table)
    now_db, stale_db = ops.adapt_datetimefield_value(now), ops.adapt_datetimefield_value(stale)
    status = OutboxMessage.Status
    late = "(deadline IS NOT NULL AND deadline <= %s)"
    in_ids = "id IN (" + ", ".join(["%s"] * len(ids)) + ")"
    sql = (
        f"UPDATE {table} SET "  # noqa: S608 - placeholders only; the table name is ours
        f"status = CASE WHEN {late} THEN %s ELSE %s END, "
        f"last_error = CASE WHEN {late} THEN %s ELSE last_error END, "
        f"claimed_at = CASE WHEN {late} THEN claimed_at ELSE %s END, "
        f"attempts = CASE WHEN {late} THEN attempts ELSE attempts + 1 END "
        # The primary key alone selects the rows (the planner must not scan the due index).
        f"WHERE {in_ids} "
        "AND ((status = %s AND next_attempt_at <= %s) OR (status = %s AND claimed_at < %s)) "
        "RETURNING id, status"
    )
    params = [
        now_db, status.EXPIRED, status.SENDING,
        now_db, EXPIRED_NOTE,
        now_db, now_db,
        now_db,
        *ids, status.PENDING, now_db, status.SENDING, stale_db,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    expired = [pk for pk, state in rows if state == status.EXPIRED]
    if expired:
        logger.warning("outbox: %s mails expired (deadline passed): %s", len(expired), expired)
    return {pk for pk, state in rows if state == status.SENDING}


def _mark_sent(message_id: int) -> None:
    """Right after the server accepted the mail: at most the mail being transmitted is in doubt
    if the worker dies."""
    table = connection.ops.quote_name(OutboxMessage._meta.db_table)
    now_db = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, sent_at = %s, last_error = '' "  # noqa: S608
            "WHERE id = %s",
            [OutboxMessage.Status.SENT, now_db, message_id],
        )


def _release(message_ids: list[int]) -> None:
    """Claimed rows this worker will not send after all (a time limit): pending again now, so
    the sweep sends them without waiting for the stale-claim window."""
    if message_ids:
        OutboxMessage.objects.filter(
            pk__in=message_ids, status=OutboxMessage.Status.SENDING
        ).update(
            status=OutboxMessage.Status.PENDING,
            claimed_at=None,
            attempts=F("attempts") - 1,
            next_attempt_at=timezone.now(),
        )


def _expire(message: OutboxMessage) -> None:
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.EXPIRED, last_error=EXPIRED_NOTE
    )
    logger.warning("outbox %s: expired before it could be sent", message.pk)


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


class _SentMarks:
    """Marks each accepted mail sent, on PostgreSQL from a second connection (a thread) while
    the next mail is transmitted, so the database round trip costs the batch nothing. Each
    mark is sent to the database before the next-but-one mail starts, so a killed worker
    still leaves only the mail in the SMTP exchange in doubt. Inside a transaction (tests) or
    on SQLite the mark is made inline."""

    def __init__(self):
        self.threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
        self.executor = ThreadPoolExecutor(max_workers=1) if self.threaded else None
        self.future = None
        if self.executor is not None:
            self.executor.submit(self._setup).result()

    @staticmethod
    def _setup() -> None:
        with connection.cursor() as cursor:  # the thread's own connection
            cursor.execute("SET synchronous_commit TO OFF")

    def mark(self, message_id: int) -> None:
        if self.executor is None:
            _mark_sent(message_id)
            return
        self.wait()
        self.future = self.executor.submit(_mark_sent, message_id)

    def wait(self) -> None:
        future, self.future = self.future, None
        if future is not None:
            future.result()

    def close(self) -> None:
        if self.executor is None:
            return
        try:
            self.wait()
        finally:
            self.executor.submit(lambda: connection.close()).result()  # the thread's own
            self.executor.shutdown()


def outbox_send_many(*, message_ids: Iterable[int], window: int = 1) -> int:
    """Send the given messages over one SMTP connection; returns how many were sent.

    Rows are claimed ``window`` at a time (one statement; rows whose deadline has passed are
    marked expired instead) and each is marked sent right after the server accepted it, so a
    retried batch skips what is sent or still claimed and a killed worker leaves one mail in
    doubt (accepted, perhaps, but not marked: sent again, with the same Message-ID, after the
    stale-claim window); the rest of its claimed window was never transmitted. The marks are
    made from a second connection while the next mail is transmitted (``_SentMarks``). A deadline
    passing while the batch runs is checked again before each mail.

    A failure never marks accepted mail failed: ``send()`` returning is the server's
    acceptance, and the row is marked sent even if a time limit strikes right then. An
    exception inside ``send()`` (a 4xx, a lost connection, the soft time limit) puts the row
    back to pending with a backoff; only a 5xx refusal (or the last attempt) marks it failed.
    On the soft time limit the rest of the claimed window is released and the task ends.
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
    marks = _SentMarks()
    try:
        with _fast_commits():
            for start in range(0, len(queue), window):
                chunk = queue[start : start + window]
                taken = _claim(chunk)
                claimed = [pk for pk in chunk if pk in taken]
                for position, message_id in enumerate(claimed):
                    message = messages[message_id]
                    message.attempts += 1
                    if message.deadline is not None and message.deadline <= timezone.now():
                        _expire(message)
                        continue
                    try:
                        if smtp is None:
                            smtp = get_connection()
                            smtp.open()
                        _email(message, connection=smtp, attachments=attachments).send()
                    except SoftTimeLimitExceeded as exc:
                        _record_failure(message, exc)
                        _release(claimed[position + 1 :])
                        raise
                    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
                        _record_failure(message, exc)
                        if smtp is not None:
                            smtp.close()
                            smtp = None
                        continue
                    try:
                        marks.mark(message_id)
                    except SoftTimeLimitExceeded:
                        _mark_sent(message_id)  # accepted: sent, whatever interrupted us
                        _release(claimed[position + 1 :])
                        raise
                    sent += 1
    finally:
        try:
            marks.close()
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


def outbox_expire(*, now=None) -> int:
    """Mark expired every mail not yet sent whose deadline has passed: pending (whether due or
    waiting for a retry), claimed by a worker (taken back after a stale claim, or not), or
    failed (so that a staff retry cannot send it late). Returns how many."""
    now = now or timezone.now()
    status = OutboxMessage.Status
    return OutboxMessage.objects.filter(
        status__in=[status.PENDING, status.SENDING, status.FAILED], deadline__lte=now
    ).update(status=status.EXPIRED, last_error=EXPIRED_NOTE)


def _smtp_answers() -> bool:
    try:
        smtp = get_connection(fail_silently=False)
        smtp.open()
        smtp.close()
    except Exception:  # noqa: BLE001 - any failure: still unreachable
        return False
    return True


def outbox_retry_unreachable() -> int:
    """Mail waiting for a retry because the server could not be reached: if it answers now,
    make it due now (not at the end of its backoff). Returns how many were made due."""
    waiting = OutboxMessage.objects.filter(
        status=OutboxMessage.Status.PENDING,
        next_attempt_at__gt=timezone.now(),
        last_error__startswith=UNREACHABLE,
    )
    if not waiting.exists() or not _smtp_answers():
        return 0
    return waiting.update(next_attempt_at=timezone.now())


def outbox_sweep(*, batch_size: int = 300) -> int:
    """Send everything due: pending (broker was down, a retry due again, the server back after
    an outage: probed once per sweep while mail waits for it) and claims of dead workers. Mail
    whose deadline passed is expired first."""
    outbox_expire()
    outbox_retry_unreachable()
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
    """Staff put failed mails back in the queue. Only mail the server did not accept is ever
    failed; one whose deadline has passed is expired instead (recorded), never sent late."""
    now = timezone.now()
    messages = list(
        OutboxMessage.objects.select_for_update().filter(
            pk__in=list(message_ids), status=OutboxMessage.Status.FAILED, sent_at__isnull=True
        )
    )
    retried = 0
    for message in messages:
        late = message.deadline is not None and message.deadline <= now
        message.status = OutboxMessage.Status.EXPIRED if late else OutboxMessage.Status.PENDING
        message.attempts = 0
        message.next_attempt_at = now
        if late:
            message.last_error = EXPIRED_NOTE
        message.save(update_fields=["status", "attempts", "next_attempt_at", "last_error"])
        audit_log(
            actor=actor,
            action="core.outbox.expired" if late else "core.outbox.retried",
            obj=message,
            from_state=OutboxMessage.Status.FAILED,
            to_state=message.status,
        )
        if late:
            continue
        retried += 1
        from ..tasks import outbox_send_task

        outbox_send_task.delay_on_commit(message.pk)
    return retried
