"""Writes for open letters, initiative signatures and alliance co-signatures.

Signatures follow double opt-in: a new signature waits for its signer to click the confirmation
link; only confirmed signatures that staff have not hidden count or show. The exact counts live in
``SignatureTally``, changed in the same transaction as the signature, so public pages read a few
dozen tally rows instead of counting the signature table.

One module per job; every public name is importable from ``pledges.services``.
"""

from ..models import CONFIRM_LINK, WITHDRAW_LINK
from .cosign import cosign_apply, cosign_decide
from .moderation import signatures_erase, signatures_purge, signatures_set_hidden
from .publishing import normalize_email, publication_save
from .signature_mail import signature_links
from .signing import (
    LinkOutcome,
    SignatureInput,
    SignOutcome,
    signature_confirm,
    signature_confirmation_resend,
    signature_sign,
    signature_sign_for_company,
    signature_withdraw,
    signature_withdraw_for_company,
    signature_withdraw_link_resend,
)
from .tally import tally_rebuild

__all__ = [
    "CONFIRM_LINK",
    "WITHDRAW_LINK",
    "LinkOutcome",
    "SignOutcome",
    "SignatureInput",
    "cosign_apply",
    "cosign_decide",
    "normalize_email",
    "publication_save",
    "signature_confirm",
    "signature_confirmation_resend",
    "signature_withdraw_link_resend",
    "signature_links",
    "signature_sign",
    "signature_sign_for_company",
    "signature_withdraw",
    "signature_withdraw_for_company",
    "signatures_erase",
    "signatures_purge",
    "signatures_set_hidden",
    "tally_rebuild",
]
