"""Throughput of GET /open-letter/ with 10,000 confirmed signatures, as a ratio to a trivial view.

Limit (issue 4): under concurrent load, gunicorn on PostgreSQL serves /open-letter/ at no less
than 0.7x the rate at which the same server, in the same run, serves a trivial Django view
(``HttpResponse("ok")`` behind the full middleware stack). Higher is better.

The benchmark writes a published letter, its initiative and 10,000 confirmed signatures (which
makes the letter the current one for the duration of the run), starts gunicorn on a free
loopback port with a URL conf that adds ``/bench/trivial/`` to the portal's, drives both URLs
with concurrent keep-nothing HTTP/1.1 clients in separate processes, and deletes everything it
wrote at the end. Visitors are anonymous first-time visitors (no cookies), the common case.

Run alone: ``.venv/bin/python bench/open_letter.py [seconds-per-round]``. Prints a table, then one
JSON object as the last line.
"""

import json
import multiprocessing
import os
import statistics
import sys
import threading
import time

from _server import TRIVIAL, free_port, request, start_server, stop_server
from _setup import django_setup

SECONDS = 3.0  # per round and URL; the first command-line argument overrides it
ROUNDS = 7  # pairs of back-to-back measurements; the ratio is the median of the pairs' ratios
SIGNATURES = 10_000
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
CLIENT_PROCESSES = 2
CLIENT_THREADS = 4
LIMIT = 0.7
LETTER_SLUG = "bench-open-letter"
INITIATIVE_SLUG = "bench-initiative"
LETTER = "/open-letter/"


# --- data ---------------------------------------------------------------------------------


def seed() -> None:
    import datetime
    import secrets

    from django.db import transaction
    from django.utils import timezone

    from cqa_portal.core.reference import Province
    from pledges import services
    from pledges.models import Commitment, Initiative, InitiativeItem, OpenLetter, Signature

    cleanup()
    with transaction.atomic():
        now = timezone.now()
        initiative = Initiative.objects.create(
            slug=INITIATIVE_SLUG,
            title="基准测试倡议",
            title_en="Benchmark initiative",
            is_published=True,
            published_at=now,
        )
        InitiativeItem.objects.bulk_create(
            InitiativeItem(initiative=initiative, order=n, text=f"倡议条目{n}") for n in range(3)
        )
        letter = OpenLetter.objects.create(
            slug=LETTER_SLUG,
            title="基准测试公开信",
            date=datetime.date(2020, 3, 20),
            addressees="全体会员",
            body="基准测试正文，**Markdown**。\n\n" * 6,
            initiative=initiative,
            is_published=True,
            published_at=now,
        )
        Commitment.objects.bulk_create(
            Commitment(letter=letter, order=n, text=f"承诺{n}" * 20) for n in range(3)
        )
        provinces = Province.values
        Signature.objects.bulk_create(
            (
                Signature(
                    initiative=initiative,
                    kind="enterprise" if n % 3 == 0 else "individual",
                    status="confirmed",
                    name=f"基准签名{n}",
                    organisation=f"基准单位{n}",
                    province=provinces[n % len(provinces)],
                    email=f"bench-signer-{n}@example.com",
                    show_name=n % 4 != 0,
                    link_key=secrets.token_urlsafe(12),
                    confirmed_at=now - datetime.timedelta(seconds=n),
                )
                for n in range(SIGNATURES)
            ),
            batch_size=2000,
        )
        services.tally_rebuild(initiative_id=initiative.pk)


def cleanup() -> None:
    from django.db import transaction

    from pledges.models import Initiative, OpenLetter, Signature

    with transaction.atomic():
        OpenLetter.objects.filter(slug=LETTER_SLUG).delete()
        Signature.objects.filter(initiative__slug=INITIATIVE_SLUG).delete()
        Initiative.objects.filter(slug=INITIATIVE_SLUG).delete()


# --- the client side ----------------------------------------------------------------------


def _client(args) -> tuple[int, int]:
    port, path, seconds = args
    done, bad = [0], [0]
    deadline = time.monotonic() + seconds

    def loop():
        while time.monotonic() < deadline:
            response = request(port, path)
            if response.startswith(b"HTTP/1.1 200"):
                done[0] += 1
            else:
                bad[0] += 1

    threads = [threading.Thread(target=loop) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0], bad[0]


def measure(pool, port: int, path: str, seconds: float) -> float:
    start = time.monotonic()
    results = pool.map(_client, [(port, path, seconds)] * CLIENT_PROCESSES)
    elapsed = time.monotonic() - start
    ok = sum(r[0] for r in results)
    bad = sum(r[1] for r in results)
    if bad:
        raise SystemExit(f"{bad} non-200 answers from {path}")
    return ok / elapsed


def main(seconds: float = SECONDS) -> dict:
    django_setup()
    from django.db import connection

    seed()
    connection.close()  # the client processes fork from here
    port = free_port()
    server = start_server(port, workers=WORKERS)
    try:
        page = request(port, LETTER)
        if b'id="count-total">10000<' not in page:
            raise SystemExit("the open letter page does not show the 10,000 signatures")
        with multiprocessing.get_context("fork").Pool(CLIENT_PROCESSES) as pool:
            measure(pool, port, TRIVIAL, 1.0)  # warm up both
            measure(pool, port, LETTER, 1.0)
            trivial, letter = [], []
            for n in range(ROUNDS):
                # Alternate which URL goes first, so a drifting background load favours neither.
                if n % 2:
                    letter.append(measure(pool, port, LETTER, seconds))
                    trivial.append(measure(pool, port, TRIVIAL, seconds))
                else:
                    trivial.append(measure(pool, port, TRIVIAL, seconds))
                    letter.append(measure(pool, port, LETTER, seconds))
    finally:
        stop_server(server)
        cleanup()
    t_trivial, t_letter = statistics.median(trivial), statistics.median(letter)
    ratios = sorted(lt / tr for lt, tr in zip(letter, trivial, strict=True))
    ratio = statistics.median(ratios)
    figures = {
        "benchmark": "open_letter",
        "database": connection.vendor,
        "signatures": SIGNATURES,
        "gunicorn_workers": WORKERS,
        "client_connections": CLIENT_PROCESSES * CLIENT_THREADS,
        "cpus": os.cpu_count(),
        "trivial_rps": round(t_trivial, 1),
        "open_letter_rps": round(t_letter, 1),
        "ratio": round(ratio, 2),
        "ratio_min": round(ratios[0], 2),
        "ratio_max": round(ratios[-1], 2),
        "limit_ratio": LIMIT,
        "higher_is_better": True,
        "ratio_to_limit": round(ratio / LIMIT, 2),
        "within_limit": ratio >= LIMIT,
    }
    print(f"{'measure':<24}{'value':>12}")
    for key in ("signatures", "gunicorn_workers", "client_connections", "trivial_rps",
                "open_letter_rps", "ratio", "ratio_min", "ratio_max", "limit_ratio"):  # fmt: skip
        print(f"{key:<24}{figures[key]!s:>12}")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS)
