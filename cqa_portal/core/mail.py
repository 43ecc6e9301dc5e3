"""Composing portal mails: one language policy and plain-text rendering for every app.

Every mail goes out in its recipient's language: the language stored with the person (a user's
``language``, a signature's, a registration's...), never the language of whoever caused the
mail. Apps render their mails with ``render_mail`` (or compose them inside ``language(lang)``)
and put them in the outbox with ``outbox_enqueue``, which stores the language so the From name
is in it too. Links in mails carry the language (``with_language``) so that a person who opens
one in a fresh browser sees the page in the language they used.

Subjects and bodies are plain text: templates are rendered without HTML escaping, so a company
named ``甲&乙`` is written ``甲&乙``, never ``甲&amp;乙``.
"""

from __future__ import annotations

import re
import unicodedata
from contextlib import contextmanager
from email.utils import parseaddr
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.template import Context
from django.template.loader import get_template
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from .errors import PortalError

LANGUAGE_PARAM = "lang"


def supported_language(value: str | None) -> str | None:
    """The portal language ``value`` names (``en``, ``en-us``, ``zh-hans``...), or None."""
    if not value:
        return None
    value = str(value).strip().lower().replace("_", "-")
    codes = [code for code, _name in settings.LANGUAGES]
    if value in codes:
        return value
    base = value.split("-", 1)[0]
    for code in codes:
        if code.split("-", 1)[0] == base:
            return code
    return None


def mail_language(value: str | None) -> str:
    """A supported language for a mail: ``value`` if the portal has it, else the first language."""
    return supported_language(value) or settings.LANGUAGE_CODE


def user_language(user, default: str | None = None) -> str:
    """The language a user's mails are written in: the one stored on the account."""
    return mail_language(
        getattr(user, "language", "") or default or translation.get_language() or ""
    )


@contextmanager
def language(value: str | None):
    """Compose a mail in ``value`` (the recipient's language)."""
    with translation.override(mail_language(value)):
        yield


def render_text(template_name: str, context: dict) -> str:
    """Render a text template as plain text: no HTML escaping of the values."""
    template = get_template(template_name)
    # The backend template wraps django.template.base.Template; render it with autoescape off.
    return template.template.render(Context(context, autoescape=False))


def collapse(text: str) -> str:
    """One line with single spaces (subjects and display names)."""
    return re.sub(r"\s+", " ", str(text)).strip()


def subject_prefix() -> str:
    """``[China Association for Quality] `` in the active language."""
    return f"[{settings.PORTAL['name']}] "


def subject_line(text: str) -> str:
    """A full subject in the active language: the portal prefix and ``text``. Line breaks
    inside ``text`` are kept for the outbox to refuse (they come from a value, not from the
    template); the outbox collapses the spaces."""
    return subject_prefix() + str(text).strip()


def render_mail(*, template: str, context: dict, lang: str) -> tuple[str, str]:
    """Subject (with the prefix) and body of ``<template>_subject.txt`` and ``<template>.txt``,
    rendered as plain text in ``lang``."""
    with language(lang):
        subject = subject_line(render_text(f"{template}_subject.txt", context))
        body = render_text(f"{template}.txt", context)
    return subject, body


def from_email(lang: str | None) -> str:
    """``DEFAULT_FROM_EMAIL``'s address with the portal's name in ``lang`` as display name."""
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    address = address or settings.DEFAULT_FROM_EMAIL
    with language(lang):
        name = collapse(str(settings.PORTAL["name"]))
    name = re.sub(r'["<>,;:\\@()\[\]]', "", name)
    return f"{name} <{address}>" if name else address


def with_language(url: str, lang: str | None) -> str:
    """``url`` with ``?lang=<lang>``: the page it opens is shown in that language (and the
    language cookie set) even in a browser that never visited the portal."""
    code = supported_language(lang)
    if not code:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "lang"]
    query.append((LANGUAGE_PARAM, code))
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- checks before a mail is written --------------------------------------------------------


def _header_unsafe(value: str) -> bool:
    """True if ``value`` has a character that breaks or forges a mail header: CR, LF and other
    control characters, and the Unicode line and paragraph separators."""
    return any(unicodedata.category(char) in ("Cc", "Zl", "Zp") and char != "\t" for char in value)


def _error(field: str) -> PortalError:
    if field == "subject":
        return PortalError(
            _(
                "The mail for this action cannot be written: a name or title that goes into "
                "its subject contains a line break or a control character. Please correct it "
                "and try again."
            ),
            code="mail_subject",
        )
    return PortalError(
        _("The mail for this action cannot be written: the recipient's address is not valid."),
        code="mail_recipient",
    )


def unbuildable() -> PortalError:
    """The refusal for a mail Django cannot build for another reason."""
    return PortalError(
        _("The mail for this action cannot be written. Please check the details you entered."),
        code="mail_invalid",
    )


def checked_subject(subject: str) -> str:
    """The subject on one line, or PortalError if it has a line break or control character."""
    subject = str(subject)
    if _header_unsafe(subject):
        raise _error("subject")
    return collapse(subject)


def check_recipient(address: str) -> None:
    """PortalError unless ``address`` is one valid mail address."""
    address = str(address)
    if _header_unsafe(address):
        raise _error("to")
    try:
        validate_email(address)
    except ValidationError as exc:
        raise _error("to") from exc
