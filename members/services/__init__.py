"""Writes for member companies, their users, fees and fee-relief requests.

One module per job; every public name is importable from ``members.services``."""

from .companies import (
    companies_import_record,
    company_import_prepare,
    company_prepare,
    company_status_change,
    company_update,
    membership_application_decide,
    membership_apply,
)
from .fees import (
    FEE_EDITABLE_FIELDS,
    FEE_REMINDER_PURPOSE,
    REMINDER_STEPS,
    ZERO,
    fee_payment_record,
    fee_reminders_send,
    fee_save,
    fee_status_for,
    fees_generate,
    fees_mark_overdue,
)
from .mail import company_admin_recipients
from .relief import (
    relief_document_add,
    relief_request_decide,
    relief_request_save,
    relief_request_start_review,
    relief_request_submit,
    relief_request_withdraw,
)
from .retention import retention_purge
from .users import (
    company_user_link,
    company_user_remove,
    invitation_accept,
    invitation_create,
    invitation_link,
    invitation_revoke,
)

__all__ = [
    "FEE_EDITABLE_FIELDS",
    "FEE_REMINDER_PURPOSE",
    "REMINDER_STEPS",
    "ZERO",
    "companies_import_record",
    "company_admin_recipients",
    "company_import_prepare",
    "company_prepare",
    "company_status_change",
    "company_update",
    "company_user_link",
    "company_user_remove",
    "fee_payment_record",
    "fee_reminders_send",
    "fee_save",
    "fee_status_for",
    "fees_generate",
    "fees_mark_overdue",
    "invitation_accept",
    "invitation_create",
    "invitation_link",
    "invitation_revoke",
    "membership_application_decide",
    "membership_apply",
    "relief_document_add",
    "relief_request_decide",
    "relief_request_save",
    "relief_request_start_review",
    "relief_request_submit",
    "relief_request_withdraw",
    "retention_purge",
]
