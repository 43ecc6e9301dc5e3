"""Background jobs of the survey (core/jobs.py): the staff exports and reminders sent by hand."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cqa_portal.core import exports as core_exports
from cqa_portal.core.jobs import JobError, Outcome, Progress, export_outcome, handler, params_of
from cqa_portal.core.models import Job

from . import exports, services
from .models import Response, Survey
from .summary import compute_summary


def _survey(job: Job) -> Survey:
    (survey_id,) = params_of(job, "survey")
    survey = Survey.objects.filter(pk=survey_id).first()
    if survey is None:
        raise JobError(_("The survey no longer exists."))
    return survey


@handler("surveys.export_responses")
def export_responses(job: Job, progress: Progress) -> Outcome:
    survey = _survey(job)
    progress.set_total(
        Response.objects.filter(survey=survey, status=Response.Status.SUBMITTED).count()
    )
    return export_outcome(
        progress,
        job.params.get("fmt", "xlsx"),
        [exports.response_sheet(survey)],
        filename=core_exports.dated_filename(f"{survey.slug}-{_('responses')}"),
    )


@handler("surveys.export_summary")
def export_summary(job: Job, progress: Progress) -> Outcome:
    survey = _survey(job)
    progress.say(_("Computing the summary…"))
    sheets = exports.summary_sheets(survey, compute_summary(survey))
    outcome = export_outcome(
        progress,
        "xlsx",
        sheets,
        filename=core_exports.dated_filename(f"{survey.slug}-{_('summary')}"),
    )
    outcome.message = _("Summary exported.")
    return outcome


@handler("surveys.reminders")
def reminders(job: Job, progress: Progress) -> Outcome:
    survey = _survey(job)
    if not survey.is_accepting:
        raise JobError(_("%(survey)s is not open: no reminders sent.") % {"survey": survey})
    count = services.reminders_send_now(survey=survey, actor=job.owner)
    return Outcome(
        message=ngettext(
            "%(survey)s: %(count)d company reminded.",
            "%(survey)s: %(count)d companies reminded.",
            count,
        )
        % {"survey": survey, "count": count}
    )
