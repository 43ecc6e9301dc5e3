"""Shared by the HTTP benchmarks: the portal under gunicorn on a free loopback port, plus one
trivial view (``/bench/trivial/``), and a minimal HTTP/1.1 client (one connection per request).

Gunicorn imports this module (``--chdir bench _server:wsgi_app()``), so the server runs the
portal's own settings and middleware; the trivial view is the baseline and the health check.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from _setup import ROOT

HERE = Path(__file__).resolve().parent
TRIVIAL = "/bench/trivial/"
# The Procfile's web process runs 3 workers; benchmarks may override with BENCH_WORKERS.
USUAL_WORKERS = 3


# --- the server side: gunicorn imports this module and calls wsgi_app() -------------------


def _trivial(request):
    from django.http import HttpResponse

    return HttpResponse("ok", content_type="text/plain")


def wsgi_app():
    """Gunicorn's app factory: the portal plus one trivial view, same settings and middleware."""
    import importlib
    import types

    sys.path.insert(0, str(ROOT))
    # As the Procfile serves it (gc.freeze included); first, it sets Django up.
    application = importlib.import_module("cqa_portal.wsgi").application
    from django.conf import settings
    from django.urls import include, path

    import cqa_portal.urls as portal_urls

    urls = types.ModuleType("bench_server_urls")
    for code in (400, 403, 404, 500):  # the portal's error pages, as in production
        setattr(urls, f"handler{code}", getattr(portal_urls, f"handler{code}"))
    urls.urlpatterns = [
        path(TRIVIAL.strip("/") + "/", _trivial),
        path("", include("cqa_portal.urls")),
    ]
    sys.modules[urls.__name__] = urls
    settings.ROOT_URLCONF = urls.__name__
    return application


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, *, workers: int = USUAL_WORKERS, env: dict | None = None):
    """Gunicorn (sync workers) on 127.0.0.1:``port``; returns once the trivial view answers."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cqa_portal.settings.local",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # As in production: persistent database connections.
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--chdir",
            str(HERE),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "_server:wsgi_app()",
        ],  # fmt: skip
        env=environment,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited at start")
        try:
            if request(port, TRIVIAL).startswith(b"HTTP/1.1 200"):
                return server
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    raise SystemExit("gunicorn did not start")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


# --- the client side ----------------------------------------------------------------------


def request(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 10,
) -> bytes:
    """One request on a new connection (``Connection: close``); returns the raw response."""
    headers = {"Host": "127.0.0.1", **(headers or {})}
    lines = [f"{method} {path} HTTP/1.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    """The status code of a raw response (0 if there is none)."""
    try:
        return int(response.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0
