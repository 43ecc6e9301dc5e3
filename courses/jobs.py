"""Background jobs of the courses (core/jobs.py): cancellations with notice sent by hand."""

from __future__ import annotations

from django.utils.translation import gettext as _

from cqa_portal.core.errors import PortalError
from cqa_portal.core.jobs import Outcome, Progress, handler, params_of
from cqa_portal.core.models import Job

from . import services
from .models import Session


@handler("courses.cancel_with_notice")
def cancel_with_notice(job: Job, progress: Progress) -> Outcome:
    """Cancel the sessions and write a notice to each registrant (through the outbox)."""
    session_ids, reason = params_of(job, "sessions", "reason")
    progress.set_total(len(session_ids))
    cancelled = notified = 0
    problems = []
    for session in Session.objects.filter(pk__in=session_ids).order_by("starts_at"):
        try:
            notified += services.session_cancel(
                session_id=session.pk, actor=job.owner, reason=reason
            )
            cancelled += 1
        except PortalError as exc:
            problems.append(f"{session}: {exc.message}")
        progress.step()
    message = _("%(sessions)d sessions cancelled; %(notified)d notices are being sent.") % {
        "sessions": cancelled,
        "notified": notified,
    }
    return Outcome(message=" ".join([message, *problems]))
