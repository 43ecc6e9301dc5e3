from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
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
    """500 and database outages: a plain page, never a traceback."""
    return render(request, "500.html", status=500)
