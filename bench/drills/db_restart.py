"""Drill: PostgreSQL restarts while the portal is under load.

What it does: starts the portal under gunicorn (3 workers, persistent database connections as
in production) on the drill database, drives pages that read the database (the course
schedule, the alliance page, a course page and /healthz) from 6 client threads, restarts the
PostgreSQL cluster after 3 seconds (``pg_ctlcluster … restart``: every connection is cut), and
keeps the load going until 10 seconds after the database is back.

What it checks: no answer other than 200 or 503 (never a 500, never a traceback); every 503
is the plain "service temporarily unavailable" page with Retry-After; /healthz says 503 while
the database is down; the portal recovers by itself: every request of the last 5 seconds is a
200, without restarting gunicorn.

This restarts the machine's whole PostgreSQL cluster: run it alone (``make drills``), never
beside a test run. Exits non-zero if a check fails; the last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

from _common import ROOT, database_url, prepare

sys.path.insert(0, str(ROOT / "bench"))

CLIENTS = 6
BEFORE = 3.0
AFTER = 10.0
PAGES = ["/courses/", "/alliance/", "/healthz"]


def cluster() -> tuple[str, str]:
    versions = sorted(os.listdir("/etc/postgresql"))
    return versions[-1], "main"


def restart_postgres() -> float:
    version, name = cluster()
    start = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "restart", "-m", "fast"],
        check=True,
        capture_output=True,
    )
    return time.monotonic() - start


def seed() -> str:
    from datetime import timedelta

    from django.utils import timezone

    from courses.models import Session, Topic

    topic, _ = Topic.objects.get_or_create(
        slug="drill-topic", defaults={"name": "演练主题", "name_en": "Drill topic"}
    )
    session, _ = Session.objects.get_or_create(
        title="数据库重启演练课程",
        defaults={
            "topic": topic,
            "starts_at": timezone.now() + timedelta(days=2),
            "ends_at": timezone.now() + timedelta(days=2, hours=1),
            "platform": "腾讯会议",
            "join_url": "https://meeting.example.com/j/1",
        },
    )
    return f"/courses/{session.pk}/"


def main() -> int:
    prepare(REDIS_URL="")
    from _server import free_port, request, start_server, status_of, stop_server

    pages = [*PAGES, seed()]
    port = free_port()
    server = start_server(port, env={"DATABASE_URL": database_url(), "REDIS_URL": ""})
    results: list[tuple[float, str, int, bytes]] = []
    lock = threading.Lock()
    stop = threading.Event()
    t0 = time.monotonic()

    def client(offset: int) -> None:
        i = offset
        while not stop.is_set():
            path = pages[i % len(pages)]
            i += 1
            try:
                raw = request(port, path, timeout=20)
            except OSError:
                raw = b""
            with lock:
                results.append((time.monotonic() - t0, path, status_of(raw), raw))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(BEFORE)
        print(f"restarting PostgreSQL {'/'.join(cluster())} under load …", flush=True)
        down_at = time.monotonic() - t0
        took = restart_postgres()
        up_at = time.monotonic() - t0
        print(f"PostgreSQL back after {took:.1f} s", flush=True)
        time.sleep(AFTER)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        stop_server(server)

    statuses: dict[int, int] = {}
    for _t, _p, status, _raw in results:
        statuses[status] = statuses.get(status, 0) + 1
    unavailable = [r for r in results if r[2] == 503]
    checks = {
        "only 200 or 503 (no 500, no connection errors)": set(statuses) <= {200, 503},
        "no traceback in any answer": not any(b"Traceback" in r[3] for r in results),
        "every 503 is the plain page with Retry-After": all(
            b"Retry-After: 30" in r[3] or r[1] == "/healthz" for r in unavailable
        ),
        "the portal answered 503 while the database was down": bool(unavailable),
        "recovered by itself: every request of the last 5 s is a 200": all(
            r[2] == 200 for r in results if r[0] > up_at + AFTER - 5
        ),
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}: {name}")
    for _t, path, status, raw in results:
        if status not in (200, 503):
            print(f"unexpected {status} from {path}: {raw[-700:].decode(errors='replace')}")
            break
    figures = {
        "drill": "db_restart",
        "requests": len(results),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "database_down_at_s": round(down_at, 1),
        "restart_seconds": round(took, 1),
        "first_200_after_restart_s": next(
            (round(r[0] - up_at, 2) for r in sorted(results) if r[0] > up_at and r[2] == 200),
            None,
        ),
        "passed": all(checks.values()),
    }
    print(json.dumps(figures))
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
