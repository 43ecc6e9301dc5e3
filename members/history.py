"""Labels of the members app's audit-log actions (collected by ``cqa_portal.core.history``)."""

from django.utils.translation import gettext_lazy as _

from cqa_portal.core.history import state_actions

from .models import MemberCompany, MembershipApplication, MembershipFee, ReliefRequest

ACTIONS = {
    "members.application.submitted": _("Membership application submitted"),
    **state_actions(
        "members.application",
        _("Membership application"),
        MembershipApplication.Status,
        only=("approved", "rejected"),
    ),
    "members.company.activated": _("Company activated as a member"),
    "members.company.updated": _("Company details changed"),
    "members.company.imported": _("Company imported"),
    **state_actions("members.company", _("Company status"), MemberCompany.Status),
    "members.fee.created": _("Fee created"),
    "members.fee.updated": _("Fee changed"),
    "members.fee.payment_recorded": _("Payment recorded"),
    "members.fees.generated": _("Fees generated"),
    **state_actions("members.fee", _("Fee"), MembershipFee.Status),
    **state_actions("members.relief", _("Fee-relief request"), ReliefRequest.Status),
    "members.invitation.created": _("Colleague invited"),
    "members.invitation.accepted": _("Invitation accepted"),
    "members.invitation.revoked": _("Invitation withdrawn"),
    "members.user.linked": _("User linked to the company"),
    "members.user.unlinked": _("User removed from the company"),
    "members.membership.role_changed": _("Administrator role handed over"),
}
