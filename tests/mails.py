"""Checks shared by the mail-language tests: a mail is entirely in one language."""

import re
from urllib.parse import urlsplit

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
EN_FROM = "China Association for Quality <noreply@caq.example.org>"
ZH_FROM = "中国质量协会 <noreply@caq.example.org>"


def assert_english(mail, *, prefix=True, names=()):
    """Subject, From and body in English; ``names`` are proper names typed by people, allowed
    to be Chinese."""
    subject, body = mail.subject, mail.body
    for name in names:
        subject, body = subject.replace(name, ""), body.replace(name, "")
    assert not CJK.search(subject), mail.subject
    assert mail.from_email == EN_FROM
    assert not CJK.search(mail.from_email)
    if prefix:
        assert mail.subject.startswith("[China Association for Quality] "), mail.subject
    assert not CJK.search(body), mail.body


def assert_chinese(mail, *, prefix=True):
    assert CJK.search(mail.subject), mail.subject
    assert mail.from_email == ZH_FROM
    if prefix:
        assert mail.subject.startswith("[中国质量协会] "), mail.subject
    assert CJK.search(mail.body)


def links(mail) -> list[str]:
    """Paths (with query) of the portal links in a mail's body."""
    found = re.findall(r"https?://[^\s/]+(/\S*)", mail.body)
    return [u.rstrip(".,;)") for u in found]


def path_of(mail, start: str) -> str:
    for url in links(mail):
        if urlsplit(url).path.startswith(start):
            return url
    raise AssertionError(f"no link to {start} in {mail.body}")


def assert_opens_in_english(client, url, *, status=200, follow=False):
    """A browser with no cookies opens ``url``: the page is English and the cookie is set."""
    client.cookies.clear()
    response = client.get(url, follow=follow)
    assert response.status_code == status, response.status_code
    assert response.cookies["django_language"].value == "en" or (
        follow and client.cookies["django_language"].value == "en"
    )
    html = response.content.decode()
    assert '<html lang="en"' in html, html[:300]
    return html


def app_callbacks(callbacks: list) -> list:
    """The on-commit callbacks of the code under test, without the page cache's own (each
    transaction that writes gives the tables it wrote new versions at commit)."""
    from cqa_portal.core import pagecache

    return [c for c in callbacks if getattr(c, "func", None) is not pagecache._bump]
