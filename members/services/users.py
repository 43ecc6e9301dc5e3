"""Writes for a company's users: invitations and memberships."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cqa_portal.core import links, mail
from cqa_portal.core.errors import PortalError
from cqa_portal.core.services import audit_log
from cqa_portal.core.site import absolute_url

from .. import conf
from ..models import INVITATION_LINK, CompanyMembership, Invitation, MemberCompany
from .mail import _mail


def _check_invitation_limit(company: MemberCompany) -> None:
    """At most ``MEMBERS_INVITATIONS_PER_DAY`` new invitations per company in 24 hours (the
    company row is locked, so concurrent invitations are counted one after the other)."""
    MemberCompany.objects.select_for_update().filter(pk=company.pk).first()
    limit = conf.get().invitations_per_day
    since = timezone.now() - timedelta(days=1)
    if Invitation.objects.filter(company=company, created_at__gte=since).count() >= limit:
        raise PortalError(
            _(
                "Your company has sent %(limit)d invitations in the last 24 hours, the most "
                "allowed. Please try again tomorrow, or ask the association's staff for help."
            )
            % {"limit": limit},
            code="invitation_limit",
        )


@transaction.atomic
def invitation_create(*, company: MemberCompany, email: str, actor) -> Invitation:
    email = email.strip().lower()
    if CompanyMembership.objects.filter(user__email__iexact=email, company=company).exists():
        raise PortalError(_("This person is already a user of your company."))
    if CompanyMembership.objects.filter(user__email__iexact=email).exists():
        raise PortalError(
            _("This email address already belongs to a user of another member company.")
        )
    invitation = (
        Invitation.objects.select_for_update()
        .filter(company=company, email=email, accepted_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    if invitation is not None and invitation.created_at < timezone.now() - (
        conf.get().invitation_max_age
    ):
        # Its link has expired: withdraw it and invite afresh (a new link in a new mail).
        _invitation_close(invitation, field="revoked_at")
        audit_log(actor=actor, action="members.invitation.revoked", obj=invitation)
        invitation = None
    if invitation is None:
        _check_invitation_limit(company)
        invitation = Invitation.objects.create(company=company, email=email, invited_by=actor)
        audit_log(actor=actor, action="members.invitation.created", obj=invitation)

    # The invitee's own language if they have an account, else the inviter's.
    invitee = get_user_model().objects.filter(email__iexact=email).first()
    _mail(
        key=f"members.invitation:{invitation.pk}:{email}",
        purpose="members.invitation",
        to=email,
        lang=mail.user_language(invitee) if invitee else mail.user_language(actor),
        template="invitation",
        context={
            "company": company,
            "inviter": actor,
            "url": absolute_url(
                reverse("members:invitation", kwargs={"token": invitation_link(invitation)})
            ),
        },
    )
    return invitation


def invitation_link(invitation: Invitation) -> str:
    """The token of the invitation's link: the same whenever it is made."""
    return links.make(INVITATION_LINK, invitation)


def _invitation_close(invitation: Invitation, *, field: str) -> None:
    """Accepted or withdrawn: the link is used up (a new key revokes it)."""
    setattr(invitation, field, timezone.now())
    links.rotate_key(invitation, save=False)
    invitation.save(update_fields=[field, "link_key"])


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user) -> CompanyMembership:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at or invitation.revoked_at:
        raise PortalError(_("This invitation is no longer valid."), code="link_revoked")
    if user.email.lower() != invitation.email.lower():
        raise PortalError(
            _("This invitation was sent to %(email)s. Log in with that address to accept it.")
            % {"email": invitation.email}
        )
    if CompanyMembership.objects.filter(user=user).exists():
        raise PortalError(_("Your account already belongs to a member company."))
    membership = CompanyMembership.objects.create(
        user=user, company=invitation.company, role=CompanyMembership.Role.COLLEAGUE
    )
    _invitation_close(invitation, field="accepted_at")
    audit_log(actor=user, action="members.invitation.accepted", obj=invitation)
    audit_log(
        actor=user,
        action="members.user.linked",
        obj=invitation.company,
        detail=user.email,
    )
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor) -> None:
    if invitation.accepted_at or invitation.revoked_at:
        return
    _invitation_close(invitation, field="revoked_at")
    audit_log(actor=actor, action="members.invitation.revoked", obj=invitation)


@transaction.atomic
def company_user_link(*, company: MemberCompany, user, role: str, actor) -> CompanyMembership:
    """Staff link a user to a company (admin)."""
    if CompanyMembership.objects.filter(user=user).exclude(company=company).exists():
        raise PortalError(_("This user already belongs to another company."))
    membership, _created = CompanyMembership.objects.update_or_create(
        user=user, defaults={"company": company, "role": role}
    )
    audit_log(
        actor=actor, action="members.user.linked", obj=company, detail=f"{user.email} ({role})"
    )
    return membership


@transaction.atomic
def company_user_remove(*, membership: CompanyMembership, actor) -> None:
    company = MemberCompany.objects.select_for_update().get(pk=membership.company_id)
    if membership.is_admin and (
        CompanyMembership.objects.filter(company=company, role=CompanyMembership.Role.ADMIN)
        .exclude(pk=membership.pk)
        .count()
        == 0
    ):
        raise PortalError(
            _("A company needs at least one administrator. Appoint another one first.")
        )
    email = membership.user.email
    membership.delete()
    audit_log(actor=actor, action="members.user.unlinked", obj=company, detail=email)
