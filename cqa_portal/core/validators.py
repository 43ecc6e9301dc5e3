"""Text the portal accepts, for every app: forms (core ``PortalForm``/``PortalModelForm``), model
fields (so the admin and the imports refuse the same) and import rows.

A one-line field (a name, a title, an organisation) takes no line break and no control
character: CR/LF in a name would later break a mail header. A multi-line field (a message, a
description) takes line breaks and tabs but no other control character (NUL among them).

Also the Unified Social Credit Code (统一社会信用代码, GB 32100-2015) of companies, for members
and pledges alike.
"""

import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

# C0 controls (NUL, tab, CR, LF ...), DEL, C1 controls, and the Unicode line and paragraph
# separators.
SINGLE_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The same, minus tab, LF and CR (and the Unicode separators, which are line breaks).
MULTI_LINE_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

SINGLE_LINE_MESSAGE = _(
    "This field takes one line of text, without line breaks or control characters."
)
MULTI_LINE_MESSAGE = _(
    "This text contains control characters that cannot be saved. Please remove them."
)


def validate_single_line(value) -> None:
    if isinstance(value, str) and SINGLE_LINE_FORBIDDEN.search(value):
        raise ValidationError(SINGLE_LINE_MESSAGE, code="single_line")


def validate_multi_line(value) -> None:
    if isinstance(value, str) and MULTI_LINE_FORBIDDEN.search(value):
        raise ValidationError(MULTI_LINE_MESSAGE, code="control_characters")


# --- Unified Social Credit Code ----------------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_USCC_RE = re.compile(rf"^[{USCC_ALPHABET}]{{2}}\d{{6}}[{USCC_ALPHABET}]{{10}}$")


def normalize_uscc(value: str) -> str:
    return (value or "").strip().upper()


def uscc_format_ok(code: str) -> bool:
    """18 characters of the 31-character alphabet; positions 3-8 an administrative division code."""
    return bool(_USCC_RE.match(code))


def uscc_check_char(code: str) -> str:
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(code[:17], USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_check_ok(code: str) -> bool:
    """True if the 18th character matches the computed check character. Some codes issued in the
    pilot period fail it and are still real: callers flag them for review instead of refusing."""
    return uscc_format_ok(code) and uscc_check_char(code) == code[17]


def validate_uscc_format(value: str) -> None:
    code = normalize_uscc(value)
    if len(code) != 18:
        raise ValidationError(
            _("A unified social credit code has 18 characters; this one has %(length)d."),
            code="uscc_length",
            params={"length": len(code)},
        )
    if not uscc_format_ok(code):
        raise ValidationError(
            _(
                "This is not a valid unified social credit code: it may only contain digits "
                "and the capital letters A–Y except I, O, S, V and Z, and characters 3–8 "
                "must be digits."
            ),
            code="uscc_format",
        )


# Every email column is 254 characters (Django's EmailField). Addresses are stored lower-cased,
# and a few letters (such as "İ") grow when lower-cased: the stored form is what must fit.
EMAIL_MAX_LENGTH = 254


def validate_email_length(value) -> None:
    if isinstance(value, str):
        MaxLengthValidator(EMAIL_MAX_LENGTH)(value.strip().lower())
