import io
import sys

from django.http import FileResponse, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from . import exports, pagecache, report, retention
from . import privacy as privacy_notice
from .decorators import login_required, post_only, staff_required
from .errors import PortalError
from .health import health_report


@pagecache.page()
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
    return render(
        request,
        "core/privacy.html",
        {"retention": retention.get(), "version": privacy_notice.version()},
    )


@require_http_methods(["GET", "POST"])
@login_required
def privacy_accept(request):
    """A new version of the notice was published: the signed-in person reads and accepts it
    (the POST), then goes on where they were."""
    from django.shortcuts import redirect
    from django.utils.http import url_has_allowed_host_and_scheme

    from .services import account_privacy_accept

    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ) or not target.startswith("/"):
        target = "/"
    if request.method == "POST":
        account_privacy_accept(user=request.user)
        return redirect(target)
    if not privacy_notice.needs_acceptance(request.user):
        return redirect(target)
    return render(
        request,
        "core/privacy_accept.html",
        {
            "next": target,
            "version": privacy_notice.version(),
            "earlier": request.user.privacy_consent_version,
        },
    )


@never_cache
@require_GET
def healthz(request):
    healthy, report = health_report()
    return JsonResponse(
        {
            "status": "ok" if healthy else "error",
            "down": [name for name, state in report.items() if state != "ok"],
            "checks": report,
        },
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


# Background jobs (core/jobs.py): each staff user sees their own, never another's (404).


def _own_job(request, pk: int):
    from django.http import Http404

    from . import selectors

    job = selectors.job_of(user=request.user, pk=pk)
    if job is None:
        raise Http404
    return job


@never_cache
@staff_required
def job_list(request):
    from . import selectors

    jobs = list(selectors.jobs_of(user=request.user))
    running = any(not job.is_finished for job in jobs)
    return render(request, "core/jobs/list.html", {"jobs": jobs, "running": running})


@never_cache
@staff_required
def job_detail(request, pk: int):
    from .imports import CHECK_KIND, import_page_url

    job = _own_job(request, pk)
    report = job.report or {}
    context = {
        "job": job,
        "report": report,
        "can_confirm": job.kind == CHECK_KIND
        and job.status == job.Status.DONE
        and report
        and not report.get("file_errors")
        and not report.get("bad_rows"),
        "refresh_seconds": 2,
        "import_url": import_page_url(job),
    }
    if job.parent_id:
        context["parent"] = job.parent
    response = render(request, "core/jobs/detail.html", context)
    if not job.is_finished:
        # Works without JavaScript: the browser reloads the page (the HTTP Refresh header, not
        # a <meta> refresh, which screen readers announce as an unexpected page change).
        response["Refresh"] = str(context["refresh_seconds"])
    return response


@staff_required
def job_download(request, pk: int):
    from django.http import FileResponse, Http404

    job = _own_job(request, pk)
    if job.status != job.Status.DONE or not job.result_file:
        raise Http404
    try:
        handle = job.result_file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    from . import exports

    types = {"csv": exports.CSV_CONTENT_TYPE, "xlsx": exports.XLSX_CONTENT_TYPE}
    extension = job.result_name.rsplit(".", 1)[-1].lower()
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=job.result_name or "export",
        content_type=types.get(extension, "application/octet-stream"),
    )
    response["Cache-Control"] = "no-store"
    return response


@staff_required
def job_bad_rows(request, pk: int, fmt: str):
    from django.http import Http404

    from . import exports
    from .imports import bad_rows_sheet

    job = _own_job(request, pk)
    if not (job.report or {}).get("bad_rows"):
        raise Http404
    name = exports.dated_filename(f"{job.input_name.rsplit('.', 1)[0]}-{_('to correct')}")
    return exports.export_response(fmt, [bad_rows_sheet(job)], filename=name)


@post_only(back="core:job")
@staff_required
def job_confirm(request, pk: int):
    from django.contrib import messages
    from django.shortcuts import redirect

    from .imports import import_confirm_start
    from .jobs import JobError, job_url

    job = _own_job(request, pk)
    try:
        follower = import_confirm_start(job=job, actor=request.user)
    except JobError as exc:
        messages.error(request, str(exc))
        return redirect(job_url(job))
    return redirect(job_url(follower))


@staff_required
@require_GET
def programme_report(request):
    """Staff: the programme's figures as of a chosen day (``?date=YYYY-MM-DD``), printable."""
    return _programme_report(request, document=False)


@staff_required
@require_GET
def programme_report_document(request):
    """Staff: the same report as a Word document (opens in LibreOffice)."""
    return _programme_report(request, document=True)


def _programme_report(request, *, document: bool):
    today = timezone.localdate(timezone=report.REPORT_TZ)
    raw = request.GET.get("date", "")
    try:
        day = report.parse_day(raw, today=today)
    except PortalError as exc:
        context = {"error": exc.message, "raw_date": raw[:40], "today": today}
        return render(request, "core/programme_report.html", context, status=400)
    data = report.programme_report(day)
    if document:
        response = FileResponse(
            io.BytesIO(report.report_docx(data)),
            as_attachment=True,
            filename=exports.safe_filename(
                _("programme-report-%(day)s") % {"day": day.isoformat()}, "docx"
            ),
            content_type=report.DOCX_CONTENT_TYPE,
        )
        response["Cache-Control"] = "no-store"
        return response
    context = {"report": data, "texts": report.report_texts(data), "today": today, "day": day}
    return render(request, "core/programme_report.html", context)
