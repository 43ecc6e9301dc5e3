"""Shared by the property-based bad-input tests (tests/*/test_bad_input.py): hostile values,
hypothesis settings, and checks that an error is shown in Chinese."""

import io
import re

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

LONG_EMAILS = st.one_of(
    st.integers(min_value=230, max_value=320).map(
        lambda n: "a" * 64 + "@" + ".".join(["b" * 60] * ((n - 65) // 61 + 1)) + ".cn"
    ),
    st.integers(min_value=1, max_value=3).map(
        lambda n: "a" * 60 + "@" + ".".join(["İ" * 60] * n) + ".cn"
    ),
)

SETTINGS = settings(
    max_examples=35,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CJK = re.compile(r"[\u4e00-\u9fff]")

ERROR_BLOCK = re.compile(
    r'<div class="(?:invalid-feedback[^"]*|alert alert-danger[^"]*)"[^>]*>(.*?)</div>', re.S
)


def assert_chinese_error(html: str, sent) -> None:
    """An error is shown, and it is written in Chinese (not merely echoing what was sent)."""
    blocks = ERROR_BLOCK.findall(html)
    assert blocks, html[-2000:]
    assert_chinese(" ".join(blocks), sent)


def assert_chinese(message: str, sent=()) -> None:
    for value in sent:
        if isinstance(value, str) and value:
            message = message.replace(value, "")
    assert CJK.search(message), message


def page_import_errors(html: str) -> list[str]:
    """The messages an import page shows: the file field's errors, whole-file errors and
    row errors (the field names of row errors aside)."""
    blocks = re.findall(r'<ul class="errorlist"[^>]*>(.*?)</ul>', html, re.S)
    blocks += re.findall(r"<h2>错误</h2>\s*<ul>(.*?)</ul>", html, re.S)
    blocks += re.findall(r'<ul class="validation-error-list">(.*?)</div>', html, re.S)
    # The job page of a checked import: the job's error, whole-file errors, each bad row's reason.
    blocks += re.findall(
        r'<div class="alert alert-danger import-file-errors"[^>]*>(.*?)</div>', html, re.S
    )
    text = re.sub(r'<span class="validation-error-field-label">.*?</span>', "", " ".join(blocks))
    found = [m.strip() for m in re.findall(r"<li[^>]*>([^<]+)", text) if m.strip()]
    found += re.findall(r'<div class="alert alert-danger job-error"[^>]*>([^<]+)</div>', html)
    found += re.findall(r'<td class="reason">([^<]+)</td>', html)
    return [m.strip() for m in found if m.strip()]


def xlsx(*rows) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
