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
    stale = timezone.now() - timedelta(seconds=services.SUMMARY_LEASE_SECONDS + 5)
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


def _request(survey):
    """Ask for a snapshot; returns the request id the task was given (the task is not run)."""
    with mock.patch.object(summary_snapshot_task, "delay") as delay:
        with transaction_callbacks():
            assert services.summary_refresh_request(survey=survey) is True
    ((survey_id, request_id), _kwargs) = delay.call_args
    return request_id


def transaction_callbacks():
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)


def test_stale_lease_of_a_dead_worker_is_taken_over_within_a_minute(survey):
    first = _request(survey)
    # The worker computing it dies: nobody renews the lease. Right away: still claimed.
    with mock.patch.object(summary_snapshot_task, "delay"):
        assert services.summary_refresh_request(survey=survey) is False
    assert services.SUMMARY_LEASE_SECONDS <= 60
    later = timezone.now() + timedelta(seconds=services.SUMMARY_LEASE_SECONDS + 1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        second = _request(survey)
    assert second != first
    # The dead worker's task, redelivered late, is superseded: it makes nothing.
    assert summary_snapshot_task(survey.pk, first) is None
    assert summary_snapshot_task(survey.pk, second) is not None
    assert SummarySnapshot.objects.filter(survey=survey).count() == 1
    survey.refresh_from_db()
    assert survey.summary_claimed_at is None and survey.summary_request_id == ""


def test_redelivered_task_makes_one_snapshot_per_request(survey):
    request_id = _request(survey)
    first = summary_snapshot_task(survey.pk, request_id)
    # The broker redelivers the same task (its worker died after storing the snapshot).
    again = summary_snapshot_task(survey.pk, request_id)
    assert first == again
    assert SummarySnapshot.objects.filter(survey=survey).count() == 1
    assert SummarySnapshot.objects.get().request_id == request_id


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_lease_is_renewed_while_computing(postgres, monkeypatch):
    survey = covid_survey()
    request_id = _request(survey)
    monkeypatch.setattr(services, "SUMMARY_LEASE_SECONDS", 0.3)
    renewals = []
    real_compute = services.compute_summary

    def slow_compute(s):
        import time

        claimed = Survey.objects.get(pk=s.pk).summary_claimed_at
        time.sleep(0.5)
        renewals.append(Survey.objects.get(pk=s.pk).summary_claimed_at > claimed)
        # Meanwhile the lease is held: a staff request is refused.
        with mock.patch.object(summary_snapshot_task, "delay"):
            renewals.append(services.summary_refresh_request(survey=s) is False)
        return real_compute(s)

    monkeypatch.setattr(services, "compute_summary", slow_compute)
    assert summary_snapshot_task(survey.pk, request_id) is not None
    assert renewals == [True, True]
    connection.close()
