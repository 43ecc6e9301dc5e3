"""Labels of the surveys app's audit-log actions (collected by ``cqa_portal.core.history``)."""

from django.utils.translation import gettext_lazy as _

from cqa_portal.core.history import state_actions

from .models import Survey

ACTIONS = {
    "surveys.response.submitted": _("Survey response submitted"),
    "surveys.response.updated": _("Survey response changed"),
    **state_actions("surveys.survey", _("Survey"), Survey.Status),
    "surveys.survey.published": _("Survey results published"),
    "surveys.survey.unpublished": _("Survey results withdrawn"),
    "surveys.survey.duplicated": _("Survey copied"),
    "surveys.survey.reminded": _("Survey reminders sent"),
}
