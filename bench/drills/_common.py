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

    def __init__(
        self,
        env: dict[str, str],
        *,
        queues: str = "mail,default",
        name: str = "drill",
        concurrency: int = 1,
    ):
        self.env = env
        self.queues = queues
        self.concurrency = concurrency
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
                str(self.concurrency),
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


# --- a course session with confirmed registrants (the reminder drills) -------------------


def seed_session(*, slug: str, prefix: str, registrants: int, starts_at) -> int:
    """A session of the drill's own topic ``slug`` with ``registrants`` confirmed registrants
    ``<prefix><n>@example.com`` (one in five in English); earlier rows of the drill removed."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from courses.models import Registration, Session, Topic

    cleanup_session(slug=slug, prefix=prefix)
    now = timezone.now()
    with transaction.atomic():
        topic = Topic.objects.create(name=f"演练 {slug}", name_en=f"Drill {slug}", slug=slug)
        session = Session.objects.create(
            title="演练直播课",
            title_en="Drill live course",
            topic=topic,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=90),
            platform="腾讯会议",
            join_url=f"https://meeting.example.com/j/{slug}",
        )
        Registration.objects.bulk_create(
            Registration(
                session=session,
                name=f"演练学员{n}",
                email=f"{prefix}{n}@example.com",
                status=Registration.Status.CONFIRMED,
                position=n + 1,
                language="zh-hans" if n % 5 else "en",
                confirmed_at=now - timedelta(days=1),
            )
            for n in range(registrants)
        )
    return session.pk


def cleanup_session(*, slug: str, prefix: str) -> dict:
    from django.db import transaction

    from courses.models import Registration, Session, Topic
    from cqa_portal.core.models import OutboxMessage

    with transaction.atomic():
        outbox = OutboxMessage.objects.filter(to__startswith=prefix).delete()[0]
        registrations = Registration.objects.filter(session__topic__slug=slug).delete()[0]
        Session.objects.filter(topic__slug=slug).delete()
        Topic.objects.filter(slug=slug).delete()
    return {"outbox": outbox, "registrations": registrations}


def outbox_states(prefix: str) -> dict[str, int]:
    """Outbox rows to the drill's recipients by status (the connection is closed after)."""
    from django.db import connection
    from django.db.models import Count

    from cqa_portal.core.models import OutboxMessage

    rows = (
        OutboxMessage.objects.filter(to__startswith=prefix).values("status").annotate(n=Count("pk"))
    )
    states = {row["status"]: row["n"] for row in rows}
    connection.close()
    return states


def per_recipient(transmissions) -> dict:
    """Counts from the SMTP server's own log of (recipient, Message-ID, subject)."""
    import collections

    sends = collections.Counter(r for r, _m, _s in transmissions)
    ids = collections.defaultdict(set)
    for rcpt, message_id, _subject in transmissions:
        ids[rcpt].add(message_id)
    return {
        "smtp_transmissions": len(transmissions),
        "recipients_reached": len(sends),
        "transmissions_per_recipient": round(len(transmissions) / max(len(sends), 1), 4),
        "recipients_with_two_messages": sum(1 for v in ids.values() if len(v) > 1),
        "retransmissions": len(transmissions) - sum(len(v) for v in ids.values()),
    }
