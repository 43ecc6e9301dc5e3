"""Signed, expiring links for invitations."""

from django.core import signing

from .models import Invitation

INVITATION_MAX_AGE = 14 * 24 * 3600
_signer = signing.TimestampSigner(salt="members.invitation")


def invitation_token(invitation: Invitation) -> str:
    return _signer.sign(str(invitation.pk))


def invitation_from_token(token: str) -> Invitation | None:
    """The invitation, or None if the link is forged, expired or the invitation is gone."""
    try:
        pk = _signer.unsign(token, max_age=INVITATION_MAX_AGE)
    except signing.BadSignature:
        return None
    return Invitation.objects.select_related("company").filter(pk=pk).first()
