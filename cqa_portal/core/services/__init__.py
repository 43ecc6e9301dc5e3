"""Writes for the cross-app building blocks: the mail outbox and the audit log.

Every app sends mail with ``outbox_enqueue`` inside the transaction that causes the mail and
records status changes with ``audit_log`` in the transaction that makes them.

One module per job; every public name is importable from ``cqa_portal.core.services``.
"""

from .account import account_privacy_accept, account_signup_complete, user_language_set
from .audit import audit_entry, audit_log, audit_log_many, audit_log_select
from .delivery import (
    RETRY_BACKOFF,
    message_id_header,
    outbox_due_ids,
    outbox_expire,
    outbox_purge,
    outbox_retry,
    outbox_send,
    outbox_send_many,
    outbox_sweep,
)
from .outbox import mail_opt_out, outbox_dispatch, outbox_enqueue, outbox_enqueue_many
from .staff_notices import staff_notice_record, staff_notices_send

__all__ = [
    "RETRY_BACKOFF",
    "account_privacy_accept",
    "account_signup_complete",
    "audit_entry",
    "audit_log",
    "audit_log_many",
    "audit_log_select",
    "mail_opt_out",
    "message_id_header",
    "outbox_dispatch",
    "outbox_due_ids",
    "outbox_enqueue",
    "outbox_enqueue_many",
    "outbox_expire",
    "outbox_purge",
    "outbox_retry",
    "outbox_send",
    "outbox_send_many",
    "outbox_sweep",
    "staff_notice_record",
    "staff_notices_send",
    "user_language_set",
]
