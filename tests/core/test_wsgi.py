"""The WSGI entry point gunicorn serves (the Procfile's ``cqa_portal.wsgi:application``)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import gc, time
import cqa_portal.wsgi
frozen = gc.get_freeze_count()
start = time.perf_counter()
gc.collect()
print(frozen, round((time.perf_counter() - start) * 1000, 1))
"""


def test_the_loaded_portal_is_kept_out_of_full_garbage_collections():
    """The views are imported and what the loaded portal holds is frozen at start, so a full
    collection in a worker no longer walks it (100-150 ms before, a pause every few hundred
    requests)."""
    result = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "cqa_portal.settings.test"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    frozen, collect_ms = result.stdout.split()
    assert int(frozen) > 50_000
    assert (
        "members.views"
        in subprocess.run(
            [sys.executable, "-c", "import cqa_portal.wsgi, sys; print(sorted(sys.modules))"],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "cqa_portal.settings.test"},
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    )
