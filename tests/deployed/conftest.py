"""Fixtures of the journey suite: one stack and one Chromium for the whole session, a fresh
browser context per visitor. In CI, missing PostgreSQL, Redis, Chromium or axe-core fail."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import AXE_PATH, CHROMIUM_ARGS, need

from .harness import Checks, Mailbox, Visitor
from .stack import Stack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = CHROMIUM_ARGS


@pytest.hookimpl(trylast=True)  # after pytest-randomly has shuffled the journeys
def pytest_collection_modifyitems(items):
    """Mark the suite; its closing checks (test_zz_*: every page kind the journeys loaded,
    every mail they received) run after every journey, whatever order the journeys ran in."""
    here = Path(__file__).parent
    closing = []
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.deployed)
            if Path(item.fspath).name.startswith("test_zz_"):
                closing.append(item)
    items[:] = [item for item in items if item not in closing] + closing


def _postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    need(url.startswith(("postgres://", "postgresql://")), "needs PostgreSQL (set DATABASE_URL)")
    return url


@pytest.fixture(scope="session")
def stack():
    url = _postgres_url()
    need(bool(shutil.which("redis-server")), "needs redis-server (Debian's redis-server)")
    with Stack(url) as running:
        _started.append(running)
        yield running


_started: list[Stack] = []


def pytest_terminal_summary(terminalreporter):
    for running in _started:
        phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in running.timings.items())
        terminalreporter.write_line(
            f"deployed stack started in {running.start_seconds:.1f} s ({phases})"
        )


@pytest.fixture(scope="session")
def mailbox(stack):
    return Mailbox(stack)


@pytest.fixture(scope="session")
def _axe_source():
    need(os.path.exists(AXE_PATH), "needs axe-core: run `npm ci` (make test does)")


@pytest.fixture(scope="session")
def checks(_axe_source):
    return Checks()


@pytest.fixture(scope="session")
def browser():
    need(os.path.exists(CHROMIUM), "needs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def visitor(browser, stack, checks, axe):
    """``visitor("name")`` opens a fresh browser context; unexpected 4xx/5xx fail the test."""
    checks.axe_runner = axe
    opened: list[Visitor] = []

    def open_visitor(name: str = "visitor") -> Visitor:
        person = Visitor(browser, stack, checks, name)
        opened.append(person)
        return person

    yield open_visitor
    unexpected = [line for person in opened for line in person.unexpected]
    for person in opened:
        person.close()
    stack.check_alive()
    assert not unexpected, "unexpected error responses:\n" + "\n".join(unexpected)
