"""How long the portal keeps personal data: the one set of numbers the privacy notice states
(``core/privacy.html`` renders them) and the beat jobs enforce, so the two cannot disagree.

The values come from ``PORTAL_RETENTION`` in the settings (each overridable from the
environment). Each is enforced by one set-based, re-runnable job:

| setting | job (beat entry) |
| --- | --- |
| ``unconfirmed_signature_days``, ``ip_hash_days`` | ``pledges.signatures.purge`` |
| ``rejected_cosign_days`` | ``pledges.signatures.purge`` (contact details erased) |
| ``unconfirmed_registration_days`` | ``courses.registrations.purge`` |
| ``expired_invitation_days`` | ``members.retention.purge`` |
| ``relief_document_days`` | ``members.retention.purge`` (after the decision) |
| ``sent_mail_days`` | ``core.outbox.purge`` |
| ``data_request_days`` | ``core.personal_data.purge`` |
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from django.conf import settings


@dataclass(frozen=True)
class Retention:
    # Unconfirmed signatures are deleted this many days after signing.
    unconfirmed_signature_days: int
    # Unconfirmed (pending) course registrations are deleted this many days after the request.
    unconfirmed_registration_days: int
    # Salted IP hashes (signatures, co-sign applications) are erased after this many days.
    ip_hash_days: int
    # A rejected co-sign application keeps its contact person's details this many days after
    # the decision; then they are erased (the organisation and the decision remain).
    rejected_cosign_days: int
    # An invitation that was not accepted is deleted this many days after its link expired or
    # it was withdrawn.
    expired_invitation_days: int
    # Sent mails (the outbox ledger) are deleted this many days after sending.
    sent_mail_days: int
    # Supporting documents of a fee-relief request are deleted this many days after the
    # request was decided or withdrawn.
    relief_document_days: int
    # A request for a link to one's data (no account) is deleted this many days after it.
    data_request_days: int

    def cutoff(self, name: str, now: datetime) -> datetime:
        """The moment before which data kept for ``name`` days is due for deletion."""
        return now - timedelta(days=getattr(self, name))


def get() -> Retention:
    values = settings.PORTAL_RETENTION
    return Retention(**{f.name: int(values[f.name]) for f in fields(Retention)})
