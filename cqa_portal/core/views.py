import sys

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from . import pagecache
from .health import health_report


@pagecache.page("site")
def home(request):
    return render(request, "core/home.html")


@require_GET
def robots_txt(request):
    """Plain text, no database: also the trivial view the page-load benchmark compares with."""
    lines = ["User-agent: *", "Disallow: /admin/", "Disallow: /members/", "Disallow: /accounts/"]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")


def set_language(request):
    """Django's language switch; a logged-in user's choice is also stored on the account, so
    that the portal's mails to them are written in it."""
    response = i18n.set_language(request)
    if request.method == "POST" and response.status_code in (200, 302):
        from .services import user_language_set

        user_language_set(user=request.user, language=request.POST.get("language", ""))
    return response


@pagecache.page("site")
def privacy(request):
    return render(request, "core/privacy.html")


@never_cache
@require_GET
def healthz(request):
    healthy, report = health_report()
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": report},
        status=200 if healthy else 503,
    )


# Error pages (handler400/403/404/500, the CSRF failure view and the 405 middleware): the
# portal's layout in the visitor's language, and nothing of the error itself (no path, no
# exception text, no setting).


def _error_page(request, template: str, status: int, context: dict | None = None):
    return render(request, template, context or {}, status=status)


def bad_request(request, exception=None):
    return _error_page(request, "400.html", 400)


def permission_denied(request, exception=None):
    return _error_page(request, "403.html", 403)


def page_not_found(request, exception=None):
    return _error_page(request, "404.html", 404)


def method_not_allowed(request):
    from .decorators import form_page

    return _error_page(request, "405.html", 405, {"form_url": form_page(request)})


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: the form expired; offer the way back to it (a same-site page)."""
    from .decorators import form_page

    return _error_page(request, "403_csrf.html", 403, {"form_url": form_page(request)})


def _standalone(template: str) -> str:
    """A server error page without the request: no session, user or database is touched, so
    it also renders while the database is down. If even the layout fails, a bare page."""
    from django.conf import settings
    from django.template.loader import render_to_string

    context = {
        "PORTAL": settings.PORTAL,
        "ICP_FILING_NUMBER": settings.ICP_FILING_NUMBER,
        "ICP_REGISTRY_URL": settings.ICP_REGISTRY_URL,
    }
    try:
        return render_to_string(template, context)
    except Exception:  # noqa: BLE001 - the page of last resort must always render
        return render_to_string(template.replace(".html", "_bare.html"))


def server_error(request):
    """Any unhandled error (handler500): a plain page, never a traceback. While the database is
    down (restart, failover) it is a 503 asking to retry; the next request reconnects by
    itself (CONN_HEALTH_CHECKS)."""
    from django.db import InterfaceError, OperationalError

    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        response = HttpResponse(_standalone("503.html"), status=503)
        response["Retry-After"] = "30"
        return response
    return HttpResponse(_standalone("500.html"), status=500)


@csrf_exempt  # RFC 8058: mail providers POST the one-click request without a CSRF token
@never_cache
@require_http_methods(["GET", "POST"])
def mail_unsubscribe(request, token: str):
    """One-click unsubscribe from one kind of bulk mail. GET (a link scanner, a person opening
    the link) shows one button and changes nothing; POST (the button, or the mail program's
    one-click request) records the opt-out."""
    from . import selectors, services
    from .mail import LIST_KINDS

    message = selectors.unsubscribe_target(token=token)
    if message is None:
        return render(request, "core/unsubscribe.html", {"invalid": True}, status=400)
    context = {"kind": LIST_KINDS.get(message.list_kind, message.list_kind)}
    if request.method == "POST":
        services.mail_opt_out(token=token)
        context["done"] = True
    else:
        context["done"] = selectors.opted_out(email=message.to, kind=message.list_kind)
    return render(request, "core/unsubscribe.html", context)
