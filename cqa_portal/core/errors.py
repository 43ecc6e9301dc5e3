"""The portal's one error type for requests the rules refuse, and the one way views show it.

Services raise ``PortalError`` with a translated message and a machine-readable ``code``; views
put it on the form (``add_to_form``) or in the page's messages (``add_to_messages``) and show it
to the person as it is. It is a ``ValidationError``, so the service's transaction is rolled back
like for any exception, and model validation errors (dicts of fields) go the same way.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError


class PortalError(ValidationError):
    """A refusal with a translated ``message`` and a machine-readable ``code``."""

    def __init__(self, message, code: str = "refused"):
        super().__init__(message, code=code)


def add_to_form(form, exc: ValidationError) -> None:
    """Put a service's refusal on ``form``: next to the field it names when the form has that
    field, else at the top of the form (``non_field_errors``)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def text(exc: ValidationError) -> str:
    """The refusal as one line of text (all its messages)."""
    return " ".join(str(m) for m in exc.messages)


def add_to_messages(request, exc: ValidationError) -> None:
    """Show a service's refusal on the next page (for actions without a form)."""
    messages.error(request, text(exc))
