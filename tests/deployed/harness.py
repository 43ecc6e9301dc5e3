"""The journey harness: visitors in Chromium against the running stack, and the mailbox.

A ``Visitor`` is one fresh browser context (390 px wide, as a phone). Every response of 400 or
more that the journey did not declare with ``expect()`` is recorded and fails the test at the
end. After each page load, ``Checks`` runs axe-core and the 390 px overflow check once per
distinct page (paths with numbers and tokens folded together); their findings are asserted by
tests/deployed/test_zz_pages_and_mail.py so that a journey's own assertions stay readable.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import urlsplit

from playwright.sync_api import Page

from .stack import WORKERS, Stack, http_get

VIEWPORT = {"width": 390, "height": 844}
LINK = re.compile(r"https?://[^\s<>\"'）)]+")


def page_key(url: str) -> str:
    """One check per page kind: numbers and long tokens in the path are folded."""
    path = urlsplit(url).path
    path = re.sub(r"/\d+(?=/|$)", "/<n>", path)
    return re.sub(r"/[A-Za-z0-9_:.\-]{20,}(?=/|$)", "/<token>", path)


@dataclass
class Checks:
    """axe and overflow findings of the whole session, one run per page kind."""

    axe_runner: object = None
    seen: set = field(default_factory=set)
    axe: list = field(default_factory=list)
    overflow: list = field(default_factory=list)

    def run(self, page: Page) -> None:
        key = page_key(page.url)
        if key in self.seen or self.axe_runner is None:
            return
        self.seen.add(key)
        self.axe.extend(self.axe_runner(page, context=key))
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )  # fmt: skip
        if widths[0] > widths[1]:
            self.overflow.append(f"{key}: scrollWidth {widths[0]} > innerWidth {widths[1]}")


class Visitor:
    def __init__(self, browser, stack: Stack, checks: Checks, name: str):
        self.name = name
        self.stack = stack
        self.checks = checks
        self.context = browser.new_context(
            base_url=stack.url, viewport=VIEWPORT, locale="zh-CN", accept_downloads=True
        )
        self.context.set_default_timeout(15000)
        self.page = self.context.new_page()
        self.unexpected: list[str] = []
        self._expected: list[tuple[int, str]] = []
        self.context.on("response", self._on_response)

    def _on_response(self, response) -> None:
        if response.status < 400:
            return
        url = response.url
        for status, fragment in self._expected:
            if response.status == status and fragment in url:
                return
        self.unexpected.append(f"{self.name}: {response.status} {response.request.method} {url}")

    def expect(self, status: int, fragment: str) -> None:
        """Declare that a response with this status to a URL containing ``fragment`` is fine."""
        self._expected.append((status, fragment))

    def goto(self, path: str):
        response = self.page.goto(path)
        self.checked()
        return response

    def checked(self) -> Page:
        """After a navigation (a click that loads a page): axe and overflow, once per page."""
        self.page.wait_for_load_state("load")
        self.checks.run(self.page)
        return self.page

    def submit(self, selector: str) -> Page:
        """Click a submit button and wait for the page it loads."""
        with self.page.expect_navigation():
            self.page.click(selector)
        return self.checked()

    def set_language(self, code: str) -> None:
        """Through the site's switcher in the header (behind the menu button at 390 px)."""
        if not self.page.is_visible("#language-select"):
            self.page.click(".navbar-toggler")
            self.page.wait_for_selector("#language-select", state="visible")
        self.page.select_option("#language-select", code)
        self.submit("#language-submit")

    def login(self, email: str, password: str) -> None:
        self.goto("/accounts/login/")
        self.page.fill("input[name=login]", email)
        self.page.fill("input[name=password]", password)
        self.submit("form[action*='login'] button[type=submit]")

    def close(self) -> None:
        self.context.close()


# --- mail ---------------------------------------------------------------------------------


@dataclass
class Mail:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    message: EmailMessage

    @property
    def links(self) -> list[str]:
        found = LINK.findall(self.text) + re.findall(r'href="([^"]+)"', self.html)
        return list(dict.fromkeys(link.rstrip(".,;") for link in found))

    def link(self, fragment: str) -> str:
        """The first link containing ``fragment``, or whose address without its query string
        (mail links carry ``?lang=``) matches it when it starts with ``^``."""
        for link in self.links:
            bare = link.split("?", 1)[0]
            if re.search(fragment, bare) if fragment.startswith("^") else fragment in link:
                return link
        raise AssertionError(
            f"no link with {fragment!r} in the mail {self.subject!r}: {self.links}"
        )


def _parse(recipients, message: EmailMessage) -> Mail:
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    return Mail(
        to=tuple(recipients),
        subject=str(message["Subject"] or ""),
        text=text_part.get_content() if text_part else "",
        html=html_part.get_content() if html_part else "",
        message=message,
    )


class Mailbox:
    def __init__(self, stack: Stack):
        self.stack = stack
        self.handler = stack.smtp.handler
        self.checked: set[str] = set()
        self.deferred: set[str] = set()

    def all(self) -> list[Mail]:
        with self.handler.lock:
            items = list(self.handler.messages)
        return [_parse(rcpts, msg) for rcpts, msg in items]

    def to(self, address: str) -> list[Mail]:
        return [mail for mail in self.all() if address.lower() in mail.to]

    def wait(self, address: str, subject: str = "", *, count: int = 1, timeout: float = 30,
             opens: tuple[str, ...] = ()) -> Mail:  # fmt: skip
        """The ``count``-th mail to ``address`` whose subject contains ``subject``.

        Its links are fetched at once with a fresh client (each must answer 200), except those
        containing one of ``opens``: the journey opens them itself with ``open()``, which checks
        them after the visitor has. (No link changes anything on a GET: fetching them first is
        what a mail scanner does.)
        """
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.to(address) if subject in m.subject]
            if len(found) >= count:
                mail = found[count - 1]
                break
            if time.monotonic() > deadline:
                subjects = [m.subject for m in self.to(address)]
                raise AssertionError(
                    f"no mail {subject!r} (#{count}) to {address} in {timeout:.0f} s; "
                    f"it received {subjects}\n{self.stack.logs()}"
                )
            self.stack.check_alive()
            time.sleep(0.25)
        later = [link for link in mail.links if any(fragment in link for fragment in opens)]
        self.deferred.update(later)
        problems = self.link_problems([mail], skip=set(later))
        assert not problems, "\n".join(problems)
        return mail

    def open(self, person, mail: Mail, fragment: str):
        """The visitor opens the mail's link; then a fresh client must get 200 from it too."""
        link = mail.link(fragment)
        response = person.goto(link)
        self.deferred.discard(link)
        problems = self.link_problems([mail], only={link})
        assert not problems, "\n".join(problems)
        return response

    def link_problems(self, mails=None, *, skip=frozenset(), only=None) -> list[str]:
        """Links of the mails (all so far by default) fetched with a fresh client, following
        redirects on the site only: not 200 in the end, or built for another host than the
        site, is a problem. Each link is fetched once; as many at a time as gunicorn has
        workers."""
        problems, fetch = [], []
        for mail in self.all() if mails is None else mails:
            for link in mail.links:
                if link in self.checked or link in skip or (only is not None and link not in only):
                    continue
                if mails is None and link in self.deferred:
                    problems.append(f"{mail.subject!r}: {link} was never opened by its journey")
                    continue
                self.checked.add(link)
                parts = urlsplit(link)
                if parts.scheme not in {"http", "https"}:
                    continue
                if f"{parts.scheme}://{parts.netloc}" != self.stack.url:
                    if parts.hostname in {"127.0.0.1", "localhost", "testserver"} or (
                        parts.hostname or ""
                    ).endswith("example.com"):
                        # Meant for this site but built from something else than SITE_URL.
                        problems.append(f"{mail.subject!r} to {mail.to}: {link} is not the site")
                    continue  # another site's address: not followed
                fetch.append((mail, link))
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            statuses = list(pool.map(lambda item: self._final_status(item[1]), fetch))
        for (mail, link), status in zip(fetch, statuses, strict=True):
            if status != 200:
                problems.append(f"{mail.subject!r} to {mail.to}: {link} answered {status}")
        return problems

    def _final_status(self, link: str) -> int:
        """The status a fresh client ends on, following up to 5 redirects on the site (a
        member's page answers with the login page)."""
        parts = urlsplit(link)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        status, headers, _body = http_get(self.stack.port, path)
        for _hop in range(5):
            target = urlsplit(headers.get("Location", ""))
            if status not in {301, 302, 303, 307, 308} or target.netloc not in {
                "",
                parts.netloc,
            }:
                break
            path = target.path + (f"?{target.query}" if target.query else "")
            status, headers, _body = http_get(self.stack.port, path)
        return status


def zh(message: str) -> str:
    """The Chinese the site shows for ``message`` (from the portal's own catalogues)."""
    from django.utils import translation

    with translation.override("zh-hans"):
        return translation.gettext(message)


def zh_n(singular: str, plural: str, count: int) -> str:
    """The Chinese the site shows for an ``ngettext`` message, with ``count`` filled in."""
    from django.utils import translation

    with translation.override("zh-hans"):
        return translation.ngettext(singular, plural, count) % {"count": count}


STAFF = ("staff@caq.example.org", "cqa-staff-2020")  # cqa_portal/core/demo.py
MEMBER = ("member@example.com", "cqa-member-2020")


def admin_save(person: Visitor, path: str, fields: dict[str, str]) -> Page:
    """Staff change an object in the admin: fill ``#id_<field>`` inputs and save."""
    person.goto(path)
    page = person.page
    for name, value in fields.items():
        page.fill(f"#id_{name}", value)
    person.submit("input[name=_save]")
    assert page.locator(".errornote").count() == 0, page.inner_text("#content")
    return page
