import uuid
from types import SimpleNamespace

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site
from django.core.mail import EmailMessage

from . import mail
from .services import outbox_enqueue


class AccountAdapter(DefaultAccountAdapter):
    """Account mails (verification, password reset) go through the portal's outbox, as plain
    text in the recipient's language (the account's, else the one of the page they are on),
    with links that open in that language."""

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
        request = allauth_context.request
        lang = mail.user_language(context.get("user"))
        site = get_current_site(request) if request is not None else None
        with mail.language(lang):
            ctx = {
                "request": request,
                "email": email,
                "current_site": SimpleNamespace(
                    name=str(settings.PORTAL["name"]), domain=getattr(site, "domain", "")
                ),
            }
            ctx.update(context)
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
