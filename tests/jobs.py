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


def admin_import(client, url: str, content: bytes, *, name: str, fmt="0", resource="0"):
    """Upload a file on an admin import page; the check runs as a job. Returns the page the
    staff member ends on (the job's page, or the import page with a message)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            url,
            {"resource": resource, "format": fmt, "import_file": SimpleUploadedFile(name, content)},
        )
    while response.status_code == 302:
        response = client.get(response["Location"])
    return response


def confirm_import(client, page):
    """Press "Confirm import" on a checked import's job page; returns the import job's page."""
    job = page.context["job"]
    assert page.context["can_confirm"], page.content.decode()[-3000:]
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(f"/staff/jobs/{job.pk}/confirm/")
    assert response.status_code == 302
    return client.get(response["Location"])
