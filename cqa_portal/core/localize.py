"""Content in the visitor's language: the one way every app picks a model's English text.

Models keep the Chinese text in ``<field>`` and an optional English one in ``<field>_en``;
English visitors see the English text when it is filled in, everyone else the Chinese one.
"""

from django.utils.translation import get_language


def in_english() -> bool:
    """Whether the active language is English."""
    return (get_language() or "").startswith("en")


def localized(obj, field: str) -> str:
    """The English text of ``field`` when the visitor chose English and it exists."""
    if in_english():
        english = getattr(obj, f"{field}_en", "")
        if english:
            return english
    return getattr(obj, field)
