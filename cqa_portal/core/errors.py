"""The portal's one error type for requests the rules refuse.

Services raise ``PortalError`` with a translated message; views and admin actions show
``exc.message`` to the person as it is. It is a ``ValidationError``, so the views and forms that
already show a service's ``ValidationError`` show it too, and the service's transaction is
rolled back like for any exception.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


class PortalError(ValidationError):
    """A refusal with a translated ``message`` and a machine-readable ``code``."""

    def __init__(self, message, code: str = "refused"):
        super().__init__(message, code=code)
