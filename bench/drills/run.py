"""Run the fault drills (``make drills``), each in its own process, and print a summary.

Every ``bench/drills/<name>.py`` (not starting with ``_``) is a drill: it runs alone, prints
what it did and what it checked, ends with one JSON object on its last line (``"passed"``:
true or false) and exits non-zero when a check fails. Usage::

    .venv/bin/python bench/drills/run.py              # every drill
    .venv/bin/python bench/drills/run.py worker_kill  # only the named ones
"""

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> dict[str, Path]:
    return {
        p.stem: p
        for p in sorted(HERE.glob("*.py"))
        if not p.name.startswith("_") and p.name != "run.py"
    }


def main(names: list[str]) -> int:
    drills = available()
    unknown = [n for n in names if n not in drills]
    if unknown:
        print(f"unknown drill(s): {', '.join(unknown)}; available: {', '.join(drills)}")
        return 2
    selected = names or list(drills)
    summary = {}
    for name in selected:
        print(f"== drill {name}", flush=True)
        start = time.monotonic()
        proc = subprocess.run([sys.executable, str(drills[name])], cwd=HERE.parent.parent)
        summary[name] = {"exit": proc.returncode, "seconds": round(time.monotonic() - start, 1)}
    print(f"\n{'drill':<24}{'result':>10}{'seconds':>10}")
    for name, outcome in summary.items():
        result = "passed" if outcome["exit"] == 0 else "FAILED"
        print(f"{name:<24}{result:>10}{outcome['seconds']:>10}")
    print(json.dumps(summary))
    return 0 if all(o["exit"] == 0 for o in summary.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
