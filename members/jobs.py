"""Background jobs of the members app (core/jobs.py): dues reminders sent by hand."""

from __future__ import annotations

from django.utils.translation import ngettext

from cqa_portal.core.jobs import Outcome, Progress, handler
from cqa_portal.core.models import Job

from . import services


@handler("members.fee_reminders")
def fee_reminders(job: Job, progress: Progress) -> Outcome:
    """The dues reminders due today (the same rule and ledger as the daily beat run: a fee gets
    each step once, never during relief)."""
    count = services.fee_reminders_send()
    return Outcome(
        message=ngettext(
            "%(count)d dues reminder written; they are being sent.",
            "%(count)d dues reminders written; they are being sent.",
            count,
        )
        % {"count": count}
    )
