"""Summary snapshots: the task stores one, a second request while one runs starts nothing."""

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from surveys import services
from surveys.models import SummarySnapshot, Survey
from surveys.tasks import summary_refresh_open_task, summary_snapshot_task

from .factories import COMPLETE, CompanyFactory, covid_survey, file_response

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey():
    survey = covid_survey()
    for _ in range(3):
        file_response(survey, CompanyFactory(), COMPLETE)
    return survey


def test_request_runs_the_task_after_commit_and_stores_a_snapshot(
    survey, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert services.summary_refresh_request(survey=survey) is True
    snapshot = SummarySnapshot.objects.get(survey=survey)
    assert snapshot.response_count == 3
    assert snapshot.data["totals"]["responses"] == 3
    assert snapshot.created_at <= timezone.now()
    survey.refresh_from_db()
    assert survey.summary_claimed_at is None  # released


def test_second_request_while_running_starts_nothing(survey, django_capture_on_commit_callbacks):
    with mock.patch.object(summary_snapshot_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            assert services.summary_refresh_request(survey=survey) is True
            assert services.summary_refresh_request(survey=survey) is False
        assert delay.call_count == 1
    # The task finishes and releases: the next request starts again.
    summary_snapshot_task(survey.pk)
    with mock.patch.object(summary_snapshot_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            assert services.summary_refresh_request(survey=survey) is True
        assert delay.call_count == 1


def test_abandoned_claim_expires(survey):
    stale = timezone.now() - timedelta(seconds=services.SUMMARY_CLAIM_SECONDS + 5)
    Survey.objects.filter(pk=survey.pk).update(summary_claimed_at=stale)
    with mock.patch.object(summary_snapshot_task, "delay"):
        assert services.summary_refresh_request(survey=survey) is True


def test_claim_released_even_when_the_computation_fails(survey):
    Survey.objects.filter(pk=survey.pk).update(summary_claimed_at=timezone.now())
    with mock.patch("surveys.services.compute_summary", side_effect=RuntimeError("boom")):
        with pytest.raises(RuntimeError):
            services.summary_snapshot_make(survey_id=survey.pk)
    survey.refresh_from_db()
    assert survey.summary_claimed_at is None


def test_beat_refreshes_open_surveys_only(survey, django_capture_on_commit_callbacks):
    closed_long_ago = covid_survey(status=Survey.Status.CLOSED)
    Survey.objects.filter(pk=closed_long_ago.pk).update(
        opens_at=timezone.now() - timedelta(days=60), closes_at=timezone.now() - timedelta(days=30)
    )
    with django_capture_on_commit_callbacks(execute=True):
        summary_refresh_open_task()
    assert SummarySnapshot.objects.filter(survey=survey).count() == 1
    assert not SummarySnapshot.objects.filter(survey=closed_long_ago).exists()


def test_old_snapshots_are_pruned(survey):
    for _ in range(services.SNAPSHOTS_KEPT + 3):
        services.summary_snapshot_make(survey_id=survey.pk)
    assert SummarySnapshot.objects.filter(survey=survey).count() == services.SNAPSHOTS_KEPT


def test_the_last_snapshot_of_an_earlier_day_is_kept(survey):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    beijing = ZoneInfo("Asia/Shanghai")
    days_ago = [
        services.summary_snapshot_make(survey_id=survey.pk) for _ in range(3)
    ]  # three on 18 March 2020, the last at 17:00
    for n, snapshot in enumerate(days_ago):
        made = datetime(2020, 3, 18, 15 + n, 0, tzinfo=beijing)
        SummarySnapshot.objects.filter(pk=snapshot.pk).update(created_at=made)
    for _ in range(services.SNAPSHOTS_KEPT + 2):
        services.summary_snapshot_make(survey_id=survey.pk)
    kept = SummarySnapshot.objects.filter(survey=survey)
    assert kept.count() == services.SNAPSHOTS_KEPT + 1
    old = kept.filter(created_at__lt=datetime(2020, 3, 19, tzinfo=beijing))
    assert list(old.values_list("pk", flat=True)) == [days_ago[-1].pk]
    assert old.get().created_at == datetime(2020, 3, 18, 17, tzinfo=beijing) + timedelta(0)


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_start_one_computation(postgres):
    survey = covid_survey()
    results = []
    barrier = threading.Barrier(6)

    def request():
        try:
            barrier.wait()
            with mock.patch.object(summary_snapshot_task, "delay"):
                results.append(services.summary_refresh_request(survey=survey))
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]
