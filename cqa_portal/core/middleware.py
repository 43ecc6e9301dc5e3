from whitenoise.middleware import WhiteNoiseMiddleware


class ChineseFirstMiddleware:
    """Serve Simplified Chinese unless the visitor chose another language.

    Django's LocaleMiddleware would follow the browser's Accept-Language header; this portal is
    Chinese first, so only an explicit choice (the language switcher's cookie) changes it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Headers Django's SecurityMiddleware does not set: a Content-Security-Policy without
    inline script, and a Permissions-Policy that turns off what the portal never uses."""

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY
        self.permissions = settings.PERMISSIONS_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        if self.permissions:
            response.setdefault("Permissions-Policy", self.permissions)
        return response


class MethodNotAllowedPageMiddleware:
    """A 405 from require_POST / require_http_methods has an empty body: give it the portal's
    405 page (in the layout and the visitor's language), keeping its Allow header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.http import HttpResponseNotAllowed

        response = self.get_response(request)
        if isinstance(response, HttpResponseNotAllowed) and not response.content:
            from .views import method_not_allowed

            page = method_not_allowed(request)
            page["Allow"] = response["Allow"]
            return page
        return response


class LanguageFromLinkMiddleware:
    """Links in the portal's mails carry the recipient's language (``?lang=en``): the page is
    shown in it and the language cookie is set, also in a browser that never visited the
    portal. Only the portal's languages are honoured. Goes after LocaleMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings
        from django.utils import translation

        from .mail import LANGUAGE_PARAM, supported_language

        lang = supported_language(request.GET.get(LANGUAGE_PARAM))
        if lang is None:
            return self.get_response(request)
        translation.activate(lang)
        request.LANGUAGE_CODE = lang
        response = self.get_response(request)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            lang,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
        return response


class AdminQueryCheckMiddleware:
    """An admin address whose query string (a changelist's filters, search or ordering) holds
    NUL or another control character would reach the database, which refuses NUL (a 500).
    Every admin page gets the same answer: the bad parameters are dropped, with a message, and
    the page is shown with the rest."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.urls import reverse

        from .validators import MULTI_LINE_FORBIDDEN

        if request.method in ("GET", "HEAD") and request.path.startswith(reverse("admin:index")):
            kept = request.GET.copy()
            bad = [
                key
                for key, values in request.GET.lists()
                if MULTI_LINE_FORBIDDEN.search(key)
                or any(MULTI_LINE_FORBIDDEN.search(value) for value in values)
            ]
            if bad:
                from django.contrib import messages
                from django.shortcuts import redirect
                from django.utils.translation import gettext as _

                for key in bad:
                    del kept[key]
                messages.warning(
                    request,
                    _(
                        "A filter, search or sort order of the address contained control "
                        "characters and was ignored."
                    ),
                )
                query = kept.urlencode()
                return redirect(request.path + (f"?{query}" if query else ""))
        return self.get_response(request)


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """whitenoise, with a year's cache lifetime for files with a content hash in their name
    (``CompressedManifestStaticFilesStorage`` in production: brotli and gzip copies are
    served to browsers that accept them)."""

    FOREVER = 365 * 24 * 60 * 60


class PageCacheMiddleware:
    """Serves an anonymous visitor a page this process holds from the page cache
    (``core.pagecache``) as soon as the language and the CSRF cookie are known, before the
    session, authentication, messages and account middleware and the URL resolver run (a
    visitor without a session cookie is anonymous: none of them has anything to add). Goes
    right after CsrfViewMiddleware, with the middleware that sets security headers above it.
    Pages not held here go on to their view, which serves them through ``pagecache.serve``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from . import pagecache

        return pagecache.stored_page(request) or self.get_response(request)


class PrivacyNoticeMiddleware:
    """A signed-in person who has not accepted the current privacy notice
    (``core.privacy.version()``) is sent to the page that asks for it, then back. Exempt: the
    notice and its accept page, logging out, the personal-data pages (seeing or erasing one's
    data needs no new consent), the staff admin, static files, the language switch, the health
    check and unsubscribe links."""

    EXEMPT = (
        "/privacy/",
        "/accounts/logout/",
        "/me/",
        "/admin/",
        "/static/",
        "/i18n/",
        "/healthz",
        "/robots.txt",
        "/mail/unsubscribe/",
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from . import privacy

        path = request.path_info
        if not path.startswith(self.EXEMPT) and privacy.needs_acceptance(request.user):
            from urllib.parse import urlencode

            from django.shortcuts import redirect
            from django.urls import reverse

            target = reverse("core:privacy_accept")
            if request.method == "GET":
                target += "?" + urlencode({"next": request.get_full_path()})
            return redirect(target)
        return self.get_response(request)
