import sys

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import health_report


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


def privacy(request):
    return render(request, "core/privacy.html")


def placeholder(request, *, section: str):
    """A section whose app has not been built yet: says so rather than 404."""
    return render(request, "core/placeholder.html", {"section": section})


@never_cache
@require_GET
def healthz(request):
    healthy, report = health_report()
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": report},
        status=200 if healthy else 503,
    )


def server_error(request):
    """Any unhandled error (handler500): a plain page, never a traceback. While the database is
    down (restart, failover) it is a 503 asking to retry; the next request reconnects by
    itself (CONN_HEALTH_CHECKS)."""
    from django.db import InterfaceError, OperationalError
    from django.template.loader import render_to_string

    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = "30"
        return response
    return HttpResponse(render_to_string("500.html"), status=500)
