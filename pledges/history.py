"""Labels of the pledges app's audit-log actions (collected by ``cqa_portal.core.history``)."""

from django.utils.translation import gettext_lazy as _

from cqa_portal.core.history import state_actions

from .models import CoSignature

ACTIONS = {
    "pledges.openletter.published": _("Open letter published"),
    "pledges.openletter.unpublished": _("Open letter withdrawn from the site"),
    "pledges.initiative.published": _("Initiative published"),
    "pledges.initiative.unpublished": _("Initiative withdrawn from the site"),
    "pledges.alliance.published": _("Alliance published"),
    "pledges.alliance.unpublished": _("Alliance withdrawn from the site"),
    "pledges.signature.confirmed": _("Signature confirmed"),
    "pledges.signature.withdrawn": _("Signature withdrawn"),
    "pledges.signature.signed_for_company": _("Signed for the company"),
    "pledges.signature.hidden": _("Signature hidden"),
    "pledges.signature.shown": _("Signature shown again"),
    "pledges.cosignature.applied": _("Co-signature applied for"),
    **state_actions(
        "pledges.cosignature",
        _("Co-signature"),
        CoSignature.Status,
        only=("approved", "rejected"),
    ),
}
