import uuid
from urllib.parse import quote

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from . import site
from .clientip import client_ip
from .services import outbox_enqueue


class AccountAdapter(DefaultAccountAdapter):
    """Account mails (verification, password reset) go through the portal's outbox, name the
    portal and link to ``SITE_URL`` (never to the Host header of the request that caused them).
    The client address of allauth's rate limits is the portal's (``core.clientip``)."""

    def get_client_ip(self, request) -> str:
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def get_email_confirmation_url(self, request, emailconfirmation) -> str:
        return site.absolute_url(reverse("account_confirm_email", args=[emailconfirmation.key]))

    def get_reset_password_from_key_url(self, key: str) -> str:
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": "UID", "key": "KEY"})
        return site.absolute_url(path.replace("UID-KEY", quote(key)))

    def send_mail(self, template_prefix, email, context) -> None:
        request = getattr(allauth_context, "request", None)
        ctx = {"request": request, "email": email, **context, "current_site": site.current_site()}
        _links_to_site_url(ctx, request)
        message = self.render_mail(template_prefix, email, ctx)
        body, html_body = message.body, ""
        if getattr(message, "content_subtype", "plain") == "html":
            body, html_body = "", message.body
        if isinstance(message, EmailMultiAlternatives):
            for content, mimetype in message.alternatives:
                if mimetype == "text/html":
                    html_body = content
        name = template_prefix.rsplit("/", 1)[-1]
        outbox_enqueue(
            # Each account mail is its own event (a new code or link every time).
            key=f"account.{name}:{email}:{uuid.uuid4().hex}",
            purpose=f"account.{name}",
            to=email,
            subject=message.subject,
            body=body,
            html_body=html_body,
        )


def _links_to_site_url(ctx: dict, request) -> None:
    """Links allauth built from the request (``signup_url``, ``password_reset_url`` of the
    "account already exists" and "unknown account" mails) point to ``SITE_URL`` instead."""
    if request is None:
        return
    try:
        root = request.build_absolute_uri("/")
    except Exception:  # noqa: BLE001 - no usable host: nothing was built from it
        return
    for name, value in ctx.items():
        if name.endswith("_url") and isinstance(value, str) and value.startswith(root):
            ctx[name] = site.absolute_url("/" + value[len(root) :])
