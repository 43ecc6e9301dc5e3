import pytest


@pytest.fixture
def send_after_commit(django_capture_on_commit_callbacks):
    """Run on-commit callbacks (the outbox send tasks) as a real commit would."""

    def run(func, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return func(*args, **kwargs)

    return run
