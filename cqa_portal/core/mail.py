"""Composing portal mails: the one path every app's mails take.

Every mail goes out in its recipient's language: the language stored with the person (a user's
``language``, a signature's, a registration's...), never the language of whoever caused the
mail. A mail kind is one template pair, ``<name>.txt`` (with ``<name>_subject.txt``) and
``<name>.html`` (which extends ``mail/base.html``: the portal's name and footer, inline styles
only). ``render_mail`` renders the three in the recipient's language and returns the arguments
of ``outbox_enqueue``; the outbox sends them as multipart text + HTML, From the portal's name in
that language, with the service address as Reply-To. Links in mails carry the language
(``with_language``) so that a person who opens one in a fresh browser sees the page in the
language they used.

Bulk mails (reminders, change notices) name a ``list_kind`` (``LIST_KINDS``): they get
List-Unsubscribe and List-Unsubscribe-Post (RFC 8058 one-click) headers and an unsubscribe
link in the footer, filled in at send time from the outbox row (``UNSUBSCRIBE_MARK``); the bulk
sender skips recipients who opted out of that kind. Bulk senders that write thousands of mails
render once per language with ``placeholder`` values and ``fill`` each recipient's in.

Subjects and text bodies are plain text: rendered without HTML escaping, so a company named
``甲&乙`` is written ``甲&乙``, never ``甲&amp;乙``; the HTML body is escaped as HTML.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from contextlib import contextmanager
from email.utils import parseaddr
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.template import Context
from django.template.loader import get_template
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
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


# Kinds of bulk mail a person can opt out of (one click per kind, RFC 8058).
LIST_KINDS = {
    "surveys.reminder": _("survey reminders"),
    "members.fee_reminder": _("membership fee reminders"),
    "courses.reminder": _("course reminders"),
    "courses.session": _("notices of course time changes and cancellations"),
}

# Stands for the recipient's one-click unsubscribe URL in a stored body; the outbox puts the
# URL in at send time (it is made from the row's id, known only once the row is written).
UNSUBSCRIBE_MARK = "__UNSUBSCRIBE_URL__"


def render_html(template_name: str, context: dict) -> str:
    """Render an HTML template (autoescaped)."""
    return get_template(template_name).render(context)


def render_mail(*, template: str, context: dict, lang: str, list_kind: str = "") -> dict:
    """One mail of the kind ``template`` in ``lang``: the subject (with the portal prefix) from
    ``<template>_subject.txt``, the text body from ``<template>.txt`` and the HTML body from
    ``<template>.html``. Returns the arguments of ``outbox_enqueue`` it fills (subject, body,
    html_body, language, list_kind); a bulk mail (``list_kind``) gets an unsubscribe footer."""
    code = mail_language(lang)
    context = {
        **context,
        "portal": settings.PORTAL,
        "list_kind": list_kind,
        "unsubscribe_url": UNSUBSCRIBE_MARK if list_kind else "",
    }
    with language(code):
        if list_kind:
            context["list_label"] = str(LIST_KINDS[list_kind])
        subject = subject_line(render_text(f"{template}_subject.txt", context))
        body = render_text(f"{template}.txt", context).strip() + "\n"
        if list_kind:
            body += "\n-- \n" + text_footer(list_kind) + "\n"
        html_body = render_html(f"{template}.html", context)
    return {
        "subject": subject,
        "body": body,
        "html_body": html_body,
        "language": code,
        "list_kind": list_kind,
    }


def text_footer(list_kind: str) -> str:
    """The unsubscribe line of a bulk mail's text body, in the active language."""
    return _("You receive %(kind)s from the portal. To stop receiving them: %(url)s") % {
        "kind": LIST_KINDS[list_kind],
        "url": UNSUBSCRIBE_MARK,
    }


def placeholder(name: str) -> str:
    """A value that ``fill`` replaces later (bulk mails rendered once for many recipients)."""
    return f"\x00{name}\x00"


def fill(composed: dict, values: dict[str, str]) -> dict:
    """``composed`` (from ``render_mail``) with each ``placeholder(name)`` replaced by
    ``values[name]``: as is in the subject and text body, HTML-escaped in the HTML body."""
    subject, body, html_body = composed["subject"], composed["body"], composed["html_body"]
    for name, value in values.items():
        mark, value = placeholder(name), str(value).replace("\x00", "")
        subject = subject.replace(mark, value)
        body = body.replace(mark, value)
        html_body = html_body.replace(mark, escape(value))
    return {**composed, "subject": subject, "body": body, "html_body": html_body}


def reply_to() -> str:
    """The service address people's replies go to (the one the site lists)."""
    return settings.PORTAL["email"]


# --- one-click unsubscribe (RFC 8058) -------------------------------------------------------

_UNSUBSCRIBE_SALT = "cqa_portal.core.mail.unsubscribe"


def unsubscribe_token(message_id: int) -> str:
    """A signed token naming one outbox row (its recipient and kind are read from the row: the
    token, which travels in a header, holds no address)."""
    return signing.Signer(salt=_UNSUBSCRIBE_SALT).sign(signing.b62_encode(message_id))


def unsubscribe_message_id(token: str) -> int | None:
    """The outbox row id of a token, or None if it was not made by ``unsubscribe_token``."""
    try:
        return signing.b62_decode(signing.Signer(salt=_UNSUBSCRIBE_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None


_UNSUBSCRIBE_URLS: dict[tuple[str, str | None], str] = {}


def unsubscribe_url(message_id: int, lang: str | None) -> str:
    """The one-click URL of an outbox row (reversed once per site and language, then filled
    in: the outbox makes one per bulk mail)."""
    from .site import absolute_url, base_url

    key = (base_url(), lang)
    if key not in _UNSUBSCRIBE_URLS:
        path = reverse("core:mail_unsubscribe", args=["TOKEN"])
        _UNSUBSCRIBE_URLS[key] = with_language(absolute_url(path), lang)
    return _UNSUBSCRIBE_URLS[key].replace("TOKEN", unsubscribe_token(message_id), 1)


# --- attachments made at send time ----------------------------------------------------------

# prefix -> builder(reference) returning (filename, text, MIME subtype, parameters) or None.
Attachment = tuple[str, str, str, dict]
_ATTACHMENT_BUILDERS: dict[str, Callable[[str], Attachment | None]] = {}


def register_attachment(prefix: str, builder: Callable[[str], Attachment | None]) -> None:
    """Apps register how to make the attachments their outbox rows refer to
    (``<prefix>:<anything>``); the builder runs at send time in the row's language."""
    _ATTACHMENT_BUILDERS[prefix] = builder


def build_attachment(reference: str) -> Attachment | None:
    """The text attachment ``reference`` names (in the active language), or None."""
    prefix = reference.split(":", 1)[0]
    builder = _ATTACHMENT_BUILDERS.get(prefix)
    return builder(reference) if builder else None


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
