"""Helpers for pages that start background jobs (core/jobs.py). Tests run tasks inline; a
job starts after commit, which a test's transaction never does, so the helpers run the
on-commit callbacks as a commit would."""

from django.test import TestCase


def start_job(client, url: str, data=None, **extra):
    """POST to a page that starts a job, run the job, and return the job's page."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(url, data or {}, **extra)
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert "/staff/jobs/" in response["Location"], response["Location"]
    return client.get(response["Location"])


def job_file(client, url: str, data=None):
    """Start an export job and download its file (the response)."""
    page = start_job(client, url, data)
    job = page.context["job"]
    assert job.status == "done", job.error
    return client.get(f"/staff/jobs/{job.pk}/download/")
