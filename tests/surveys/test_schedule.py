"""Beat entries and the closing sweep."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cqa_portal.celery import app
from cqa_portal.core.models import AuditEntry
from surveys.models import Survey
from surveys.tasks import close_due_task

from .factories import covid_survey

pytestmark = pytest.mark.django_db


def test_beat_schedule_has_the_survey_jobs():
    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {
        "surveys.summary.refresh_open",
        "surveys.reminders.sweep",
        "surveys.status.close_due",
    } <= tasks
    for name in tasks & {"surveys.summary.refresh_open", "surveys.reminders.sweep"}:
        assert name in app.tasks


def test_surveys_past_their_closing_time_are_closed():
    due = covid_survey()
    Survey.objects.filter(pk=due.pk).update(closes_at=timezone.now() - timedelta(minutes=1))
    running = covid_survey()
    assert close_due_task() == 1
    due.refresh_from_db()
    running.refresh_from_db()
    assert due.status == Survey.Status.CLOSED
    assert running.status == Survey.Status.OPEN
    assert AuditEntry.objects.filter(action="surveys.survey.closed", object_id=str(due.pk)).exists()
    assert close_due_task() == 0


def test_survey_cannot_open_without_options():
    from django.core.exceptions import ValidationError

    from surveys import services
    from surveys.models import Question

    survey = covid_survey(status=Survey.Status.DRAFT)
    Question.objects.create(survey=survey, order=99, code="bare", kind="single", text="无选项")
    with pytest.raises(ValidationError):
        services.survey_set_status(survey=survey, status=Survey.Status.OPEN)
