"""The portal's public address and name: the one source of every absolute link.

Links in mails and calendar files are built from the ``SITE_URL`` setting, never from the Host
header of a request (which a client chooses) and never from a copy of the setting in an app.
Production refuses to start without it (``validate_site_url``).
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def validate_site_url(value: str) -> str:
    """The address without a trailing slash; ImproperlyConfigured unless it is http(s)://host."""
    parts = urlsplit(value or "")
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImproperlyConfigured(
            "SITE_URL must be the portal's public address, e.g. https://portal.example.org"
        )
    if parts.query or parts.fragment:
        raise ImproperlyConfigured("SITE_URL must not have a query string or a fragment.")
    return value.rstrip("/")


def base_url() -> str:
    """``SITE_URL`` without a trailing slash, e.g. ``https://portal.example.org``."""
    return settings.SITE_URL.rstrip("/")


def absolute_url(path: str) -> str:
    """The absolute address of a path of the portal (``reverse()`` or ``get_absolute_url()``)."""
    if not path.startswith("/"):
        path = "/" + path
    return base_url() + path


def domain() -> str:
    """Host (and port, if any) of ``SITE_URL``: ``portal.example.org``."""
    return urlsplit(base_url()).netloc


def name() -> str:
    """The portal's name in the active language."""
    return str(settings.PORTAL["name"])


@dataclass(frozen=True)
class PortalSite:
    """Stands for ``django.contrib.sites``' Site in allauth's mails (that app is not installed):
    ``current_site.name`` and ``current_site.domain`` in templates."""

    name: str
    domain: str

    def __str__(self) -> str:
        return self.domain


def current_site() -> PortalSite:
    return PortalSite(name=name(), domain=domain())
