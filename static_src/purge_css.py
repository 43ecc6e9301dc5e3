"""Build the portal's subset of Bootstrap's CSS: only the rules whose classes the portal uses.

Run after changing templates (offline, no network): ``.venv/bin/python static_src/purge_css.py``.
It reads the full Bootstrap build in ``static_src/bootstrap-5.3.9/bootstrap.min.css`` (not served)
and writes ``static/vendor/bootstrap-5.3.9/bootstrap.subset.css`` (served, committed).

Which classes are used: every word in the portal's templates and JavaScript (and in allauth's
templates), the ``class="…"`` values in its Python (HTML built in code), plus ``SAFELIST`` for
class names built at run time. A style rule is kept
when one of its selectors names only used classes (selectors without classes are kept); ``@media``
and ``@supports`` blocks keep their used rules; other at-rules (``@keyframes``…) are kept whole.
``tests/core/test_static_files.py`` fails when the committed file is out of date.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "static_src" / "bootstrap-5.3.9" / "bootstrap.min.css"
TARGET = ROOT / "static" / "vendor" / "bootstrap-5.3.9" / "bootstrap.subset.css"
HEADER = (
    "/*! Bootstrap v5.3.9 (https://getbootstrap.com/), Copyright 2011-2025 The Bootstrap Authors,"
    " MIT licence (LICENSE). Subset for the CQA portal: built by static_src/purge_css.py. */\n"
)
# Built in templates from variables: alert-{{ message.tags }} and the like.
SAFELIST = {
    *(f"alert-{tag}" for tag in ("primary", "secondary", "success", "info", "warning", "danger")),
    *(f"text-bg-{tag}" for tag in ("primary", "secondary", "success", "info", "warning", "danger")),
    *(f"bg-{tag}" for tag in ("primary", "secondary", "success", "info", "warning", "danger")),
    "show",
    "collapse",
    "collapsing",
}
SCANNED = ("*.html", "*.js", "*.py")
SKIPPED_DIRS = {".venv", "node_modules", "staticfiles", "static_src", ".git", "bench", "tests"}
_CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
_WORD = re.compile(r"[A-Za-z][\w-]*")
_PY_CLASS = re.compile(r"""class=["']([^"']*)["']""")


def _files():
    for pattern in SCANNED:
        for path in ROOT.rglob(pattern):
            parts = set(path.relative_to(ROOT).parts)
            if not parts & SKIPPED_DIRS and "vendor" not in parts:
                yield path
    import allauth

    yield from Path(allauth.__file__).parent.joinpath("templates").rglob("*.html")


def used_tokens() -> set[str]:
    tokens = set(SAFELIST)
    for path in _files():
        text = path.read_text(encoding="utf-8", errors="ignore")
        if path.suffix == ".py":
            text = " ".join(_PY_CLASS.findall(text))
        tokens.update(_WORD.findall(text))
    return tokens


def _blocks(css: str):
    """Top-level (prelude, body) pairs; body None for statements like @charset."""
    i, n = 0, len(css)
    while i < n:
        start = i
        while i < n and css[i] not in "{;":
            if css[i] in "\"'":
                i = css.index(css[i], i + 1)
            elif css.startswith("/*", i):
                i = css.index("*/", i) + 1
            i += 1
        if i >= n:
            break
        prelude = css[start:i].strip()
        if css[i] == ";":
            yield prelude, None
            i += 1
            continue
        depth, j = 1, i + 1
        while depth:
            c = css[j]
            if c in "\"'":
                j = css.index(c, j + 1)
            elif css.startswith("/*", j):
                j = css.index("*/", j) + 1
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            j += 1
        yield prelude, css[i + 1 : j - 1]
        i = j


def _split_selectors(prelude: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for c in prelude:
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        if c == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += c
    return [*parts, current]


def _kept(selector: str, tokens: set[str]) -> bool:
    # :not(.x) does not need .x to be used.
    plain = re.sub(r":not\([^)]*\)", "", re.sub(r"\[[^\]]*\]", "", selector))
    return all(name in tokens for name in _CLASS.findall(plain))


def purge(css: str, tokens: set[str]) -> str:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    out = []
    for prelude, body in _blocks(css):
        if body is None:
            if prelude.startswith("@charset"):
                continue
            out.append(prelude + ";")
        elif prelude.startswith(("@media", "@supports", "@container", "@layer")):
            inner = purge(body, tokens)
            if inner:
                out.append(f"{prelude}{{{inner}}}")
        elif prelude.startswith("@"):
            out.append(f"{prelude}{{{body}}}")
        else:
            selectors = [s for s in _split_selectors(prelude) if _kept(s, tokens)]
            if selectors:
                out.append(f"{','.join(selectors)}{{{body}}}")
    return "".join(out)


def build() -> str:
    return HEADER + purge(SOURCE.read_text(encoding="utf-8"), used_tokens()) + "\n"


if __name__ == "__main__":
    TARGET.write_text(build(), encoding="utf-8")
    print(f"{TARGET.relative_to(ROOT)}: {TARGET.stat().st_size:,} bytes", file=sys.stderr)
