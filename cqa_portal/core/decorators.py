"""Who may post where, and the way back to a form.

``post_only(back=...)`` marks a view that only accepts POST (a button on another page) and names
the page that holds its form. ``login_required`` (and ``staff_required``) send anonymous users
to log in; after logging in they land on a page they can open: for a GET the page itself, for a
POST the page the form was on (``form_page``), never the POST-only address, which would answer
405. The CSRF failure page offers the same way back.
"""

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

SAFE_METHODS = ("GET", "HEAD")

Back = str | Callable[..., str]


def post_only(view=None, *, back: Back):
    """Only POST (anything else gets the 405 page). ``back`` is the page holding the form: a
    URL name, reversed with the view's keyword arguments when it takes them (else without), or
    a callable ``(request, **kwargs) -> path``."""

    def decorator(view_func):
        wrapped = require_POST(view_func)
        wrapped.form_page = back
        return wrapped

    return decorator(view) if view else decorator


def _declared_back(request) -> str | None:
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
    back = getattr(match.func, "form_page", None)
    if back is None:
        return None
    if callable(back):
        return back(request, **match.kwargs)
    for kwargs in (match.kwargs, {}):
        try:
            return reverse(back, kwargs=kwargs)
        except NoReverseMatch:
            continue
    return None


def referer_path(request) -> str | None:
    """The path (and query) of the page that sent the request, when it is on this site and not
    the requested address itself."""
    referer = request.META.get("HTTP_REFERER", "")
    if not referer or not url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    parts = urlsplit(referer)
    if not parts.path.startswith("/") or parts.path == request.path:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def form_page(request) -> str:
    """Where the form behind this request lives: the same-site page that sent it, else the
    page a POST-only view declares, else the requested page itself (when it answers a GET),
    else the home page."""
    found = referer_path(request) or _declared_back(request)
    if found:
        return found
    match = getattr(request, "resolver_match", None)
    if match is not None and getattr(match.func, "form_page", None) is None:
        return request.get_full_path()
    return reverse("core:home")


def login_next(request) -> str:
    """The page to land on after logging in."""
    if request.method in SAFE_METHODS:
        return request.get_full_path()
    return form_page(request)


def _guard(test: Callable, login_url: str | None):
    def decorator(view_func):
        @wraps(view_func)
        def wrapper(request, *args, **kwargs):
            if test(request.user):
                return view_func(request, *args, **kwargs)
            return redirect_to_login(
                login_next(request), resolve_url(login_url) if login_url else None
            )

        return wrapper

    return decorator


def login_required(view=None):
    """Like Django's, but a POST lands back on the form's page after logging in."""
    decorator = _guard(lambda user: user.is_authenticated, None)
    return decorator(view) if view else decorator


def staff_required(view=None):
    """Like the admin's staff_member_required (its login page), with the same way back."""
    decorator = _guard(lambda user: user.is_active and user.is_staff, "admin:login")
    return decorator(view) if view else decorator
