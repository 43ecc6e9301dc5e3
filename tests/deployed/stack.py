"""The portal as deployed, as real processes on 127.0.0.1 free ports, for the journey suite.

One ``Stack`` holds: a fresh PostgreSQL database on the shared server (migrated and seeded with
``seed_demo``, dropped at the end), a Redis server of its own, an SMTP server that keeps what it
receives (in-process, tests/drills/smtp_sink.py), gunicorn with the Procfile's 3 workers on the
production settings (static files collected into a temporary directory, served by whitenoise),
a Celery worker and Celery beat. Every process writes its output to a file in the stack's
directory; ``logs()`` gives their tails for failure messages.
"""

from __future__ import annotations

import http.client
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.drills.own_redis import OwnRedis
from tests.drills.smtp_sink import SmtpSink, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORKERS = 3  # as the Procfile
logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's every command


class StackError(RuntimeError):
    pass


def http_get(port: int, path: str, *, headers: dict | None = None, timeout: float = 10):
    """One GET on a connection of its own: (status, headers, body bytes)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


class Stack:
    def __init__(self, base_database_url: str):
        self.dir = Path(tempfile.mkdtemp(prefix="cqa-deployed-"))
        self.db_name = f"cqa_deployed_{secrets.token_hex(4)}"
        parts = urlsplit(base_database_url)
        self.admin_url = urlunsplit(parts._replace(path="/postgres"))
        self.database_url = urlunsplit(parts._replace(path="/" + self.db_name))
        self.redis = OwnRedis()
        self.smtp = SmtpSink()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen] = {}
        self._db_created = False
        self._smtp_started = False
        self._manage_running: list[subprocess.Popen] = []

    # --- environment --------------------------------------------------------------------

    @property
    def env(self) -> dict:
        for sub in ("static", "media", "private"):
            (self.dir / sub).mkdir(exist_ok=True)
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
        keep.pop("DATABASE_URL", None)
        keep.pop("REDIS_URL", None)
        return {
            **keep,
            "DJANGO_SETTINGS_MODULE": "cqa_portal.settings.production",
            "SECRET_KEY": "deployed-suite-" + secrets.token_hex(24),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": self.url,
            # Deployed behind one reverse proxy: the client is the last X-Forwarded-For entry.
            "TRUSTED_PROXY_COUNT": "1",
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_HSTS_SECONDS": "0",
            "EMAIL_URL": f"smtp://127.0.0.1:{self.smtp.port}",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "STATIC_ROOT": str(self.dir / "static"),
            "MEDIA_ROOT": str(self.dir / "media"),
            "PRIVATE_MEDIA_ROOT": str(self.dir / "private"),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }

    # --- start and stop -----------------------------------------------------------------

    def start(self) -> Stack:
        started = time.monotonic()
        self._create_database()
        self.redis.start()
        self.smtp.__enter__()
        self._smtp_started = True
        self._env = self.env  # one SECRET_KEY for every process
        self.timings: dict[str, float] = {"services": time.monotonic() - started}
        # collectstatic needs no database: it runs while migrate does. The processes need the
        # static files (whitenoise indexes them when a worker boots) and the schema; they boot
        # while seed_demo runs, and nothing is asked of them before both are done.
        begun = time.monotonic()
        collectstatic = self._manage_start("collectstatic", "--noinput", "-v0")
        self._manage("migrate", "--noinput", "-v0")
        self.timings["migrate"] = time.monotonic() - begun
        self._manage_wait(collectstatic)
        self.timings["collectstatic (with migrate)"] = time.monotonic() - begun
        begun = time.monotonic()
        self._spawn(
            "gunicorn",
            [str(BIN / "gunicorn"), "cqa_portal.wsgi:application",
             "--bind", f"127.0.0.1:{self.port}", "--workers", str(WORKERS),
             "--timeout", "60", "--log-level", "warning"],
        )  # fmt: skip
        self._spawn(
            "worker",
            [str(BIN / "celery"), "-A", "cqa_portal", "worker", "--queues", "mail,default",
             "--concurrency", "2", "--loglevel", "WARNING", "--without-heartbeat",
             "--without-mingle", "--without-gossip"],
        )  # fmt: skip
        self._spawn(
            "beat",
            [str(BIN / "celery"), "-A", "cqa_portal", "beat", "--loglevel", "WARNING",
             "--schedule", str(self.dir / "celerybeat-schedule")],
        )  # fmt: skip
        self._manage("seed_demo")
        self.timings["seed_demo"] = time.monotonic() - begun
        self._wait_ready()
        self.timings["processes ready (with seed_demo)"] = time.monotonic() - begun
        self.start_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        for process in self._manage_running:  # a start that failed half-way
            process.kill()
            process.wait(timeout=5)
        # Quick shutdowns: gunicorn's SIGINT and Celery's cold SIGQUIT do not wait for idle
        # workers (SIGTERM's graceful ones took 6 s); nothing of the stack outlives the session.
        quick = {"gunicorn": signal.SIGINT, "worker": signal.SIGQUIT}
        for name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                process.send_signal(quick.get(name, signal.SIGTERM))
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        for handle in getattr(self, "_files", []):
            handle.close()
        self.processes.clear()
        self.redis.stop()
        if self._smtp_started:
            self.smtp.__exit__(None, None, None)
            self._smtp_started = False
        self._drop_database()

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- helpers ------------------------------------------------------------------------

    def _admin(self, sql: str) -> None:
        import psycopg2

        connection = psycopg2.connect(self.admin_url, connect_timeout=5)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(sql)
        finally:
            connection.close()

    def _create_database(self) -> None:
        self._admin(f'CREATE DATABASE "{self.db_name}"')
        self._db_created = True

    def _drop_database(self) -> None:
        if self._db_created:
            self._admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            self._db_created = False

    def _manage_start(self, *args: str) -> tuple[subprocess.Popen, Path, list[str]]:
        log = self.dir / f"manage-{args[0]}.log"
        with open(log, "wb") as handle:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
                [sys.executable, "manage.py", *args],
                cwd=ROOT,
                env=self._env,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        self._manage_running.append(process)
        return process, log, list(args)

    def _manage_wait(self, started: tuple[subprocess.Popen, Path, list[str]]) -> None:
        process, log, args = started
        try:
            returncode = process.wait(timeout=300)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
            raise StackError(f"manage.py {' '.join(args)} took over 300 s") from None
        finally:
            self._manage_running.remove(process)
        if returncode:
            raise StackError(f"manage.py {' '.join(args)} failed:\n{log.read_text()[-3000:]}")

    def _manage(self, *args: str) -> None:
        self._manage_wait(self._manage_start(*args))

    def _spawn(self, name: str, argv: list[str]) -> None:
        self._files = getattr(self, "_files", [])
        handle = open(self.dir / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
        self._files.append(handle)
        self.processes[name] = subprocess.Popen(  # noqa: S603 - our own executables
            argv, cwd=ROOT, env=self._env, stdout=handle, stderr=subprocess.STDOUT
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                status, _headers, _body = http_get(self.port, "/healthz", timeout=3)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise StackError("gunicorn did not answer /healthz with 200 in 60 s\n" + self.logs())

    def check_alive(self) -> None:
        dead = [name for name, p in self.processes.items() if p.poll() is not None]
        if dead:
            raise StackError(f"exited: {', '.join(dead)}\n" + self.logs())

    def logs(self, tail: int = 2000) -> str:
        parts = []
        for log in sorted(self.dir.glob("*.log")):
            text = log.read_text(errors="replace").strip()
            if text:
                parts.append(f"--- {log.name} ---\n{text[-tail:]}")
        return "\n".join(parts)

    def manage(self, *args: str) -> None:
        """Run a management command against the stack's database (for test set-up)."""
        self._manage(*args)
