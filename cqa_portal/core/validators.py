"""Text the portal accepts, for every app: forms (core ``PortalForm``/``PortalModelForm``), model
fields (so the admin and the imports refuse the same) and import rows.

A one-line field (a name, a title, an organisation) takes no line break and no control
character: CR/LF in a name would later break a mail header. A multi-line field (a message, a
description) takes line breaks and tabs but no other control character (NUL among them).
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


# Every email column is 254 characters (Django's EmailField). Addresses are stored lower-cased,
# and a few letters (such as "İ") grow when lower-cased: the stored form is what must fit.
EMAIL_MAX_LENGTH = 254


def validate_email_length(value) -> None:
    if isinstance(value, str):
        MaxLengthValidator(EMAIL_MAX_LENGTH)(value.strip().lower())
