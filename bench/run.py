"""Run every benchmark in bench/ (each in its own process), print a table of their figures and
write them to bench/results.json. Usage: make bench  (or: python bench/run.py [name ...])."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(
        p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name != "run.py"
    )
    if names:
        scripts = [p for p in scripts if p.stem in names]
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("warning: DATABASE_URL is not PostgreSQL: figures not comparable", file=sys.stderr)
    results, failed = {}, []
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, cwd=HERE.parent
        )
        lines = [line for line in proc.stdout.strip().splitlines() if line.strip()]
        try:
            figures = json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            failed.append(script.stem)
            print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n")
            continue
        figures["wall_seconds"] = round(time.monotonic() - start, 1)
        results[script.stem] = figures
        print("\n".join(lines[:-1]))
    (HERE / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"\n{'benchmark':<24}{'ratio to limit':>16}{'within limit':>14}")
    for name, figures in results.items():
        ratio = figures.get("ratio_to_limit", "")
        within = figures.get("within_limit", "")
        print(f"{name:<24}{ratio!s:>16}{within!s:>14}")
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
