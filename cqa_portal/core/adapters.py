import uuid

from allauth.account.adapter import DefaultAccountAdapter
from django.core.mail import EmailMultiAlternatives

from .services import outbox_enqueue


class AccountAdapter(DefaultAccountAdapter):
    """Account mails (verification, password reset) go through the portal's outbox."""

    def send_mail(self, template_prefix, email, context) -> None:
        message = self.render_mail(template_prefix, email, context)
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
