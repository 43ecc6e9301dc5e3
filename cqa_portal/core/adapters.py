import uuid
from urllib.parse import quote

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage
from django.urls import reverse

from . import mail, site
from .clientip import client_ip
from .services import outbox_enqueue


class AccountAdapter(DefaultAccountAdapter):
    """Account mails (verification, password reset) go through the portal's outbox, as plain
    text in the recipient's language (the account's, else the one of the page they are on),
    name the portal and link to ``SITE_URL`` (never to the Host header of the request that
    caused them), with links that open in that language. The client address of allauth's rate
    limits is the portal's (``core.clientip``)."""

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

    def login(self, request, user):
        """A person who chose a language before logging in keeps getting mails in it."""
        response = super().login(request, user)
        from .services import user_language_set

        user_language_set(
            user=user, language=request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        )
        return response

    def format_email_subject(self, subject: str) -> str:
        return mail.subject_line(subject)

    def render_mail(self, template_prefix, email, context, headers=None) -> EmailMessage:
        subject = mail.render_text(f"{template_prefix}_subject.txt", context)
        # allauth's subject templates span several lines (as allauth does: join them).
        subject = " ".join(subject.splitlines())
        body = mail.render_text(f"{template_prefix}_message.txt", context).strip() + "\n"
        return EmailMessage(
            subject=self.format_email_subject(subject),
            body=body,
            from_email=self.get_from_email(),
            to=[email] if isinstance(email, str) else email,
            headers=headers,
        )

    def send_mail(self, template_prefix, email, context) -> None:
        request = getattr(allauth_context, "request", None)
        lang = mail.user_language(context.get("user"))
        with mail.language(lang):
            ctx = {"request": request, "email": email, **context}
            ctx["current_site"] = site.current_site()
            _links_to_site_url(ctx, request)
            for key, value in list(ctx.items()):
                if key.endswith("_url") and isinstance(value, str):
                    ctx[key] = mail.with_language(value, lang)
            message = self.render_mail(template_prefix, email, ctx)
        name = template_prefix.rsplit("/", 1)[-1]
        outbox_enqueue(
            # Each account mail is its own event (a new code or link every time).
            key=f"account.{name}:{email}:{uuid.uuid4().hex}",
            purpose=f"account.{name}",
            to=email,
            subject=message.subject,
            body=message.body,
            language=lang,
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
