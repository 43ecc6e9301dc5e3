"""Shared by the fault drills: a database of their own, a Redis of their own, real Celery workers
as subprocesses, and the SMTP sink of tests/drills.

A drill module calls ``prepare(redis_url=..., email_url=..., extra_env=...)`` before touching
Django: it creates the drill database if missing (``DRILLS_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/cqa_drills``), points this process at it, sets up Django and
migrates. The database is kept between runs (each drill deletes the rows it wrote).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/cqa_drills"
SETTINGS = "cqa_portal.settings.local"


def database_url() -> str:
    return os.environ.get("DRILLS_DATABASE_URL", DEFAULT_DATABASE_URL)


def ensure_database(url: str) -> bool:
    """Create the drill database if it does not exist; returns True if it was created."""
    import psycopg2
    from psycopg2 import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
    )
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone():
                return False
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    finally:
        admin.close()


def drill_env(**extra: str) -> dict[str, str]:
    """The environment of the drill's processes (this one and the workers it starts)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def prepare(**extra: str) -> bool:
    """Point this process at the drill database and the given settings, set up Django and
    migrate. Returns True if the database was created."""
    created = ensure_database(database_url())
    os.environ.update(drill_env(**extra))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    return created


class Worker:
    """A real Celery worker in its own process group (so SIGKILL takes the pool with it)."""

    def __init__(self, env: dict[str, str], *, queues: str = "mail,default", name: str = "drill"):
        self.env = env
        self.queues = queues
        self.name = name
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix=f"cqa-{name}-", suffix=".log", delete=False)
        self.starts = 0

    def start(self) -> Worker:
        self.starts += 1
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "celery"),
                "-A",
                "cqa_portal",
                "worker",
                "-Q",
                self.queues,
                "--concurrency",
                "1",
                "--loglevel",
                "WARNING",
                "-n",
                f"{self.name}-{os.getpid()}-{self.starts}@%h",
                "--without-gossip",
                "--without-mingle",
            ],  # fmt: skip
            env=self.env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and its pool: no shutdown, no acknowledgement, nothing flushed."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        """Warm shutdown, then SIGKILL if it takes too long."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        self.stop()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)
