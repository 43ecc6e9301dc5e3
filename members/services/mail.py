"""Member mails: composed in the recipient's language; the company administrators' addresses."""

from __future__ import annotations

from django.conf import settings

from cqa_portal.core import mail
from cqa_portal.core.services import outbox_enqueue

from ..models import CompanyMembership, MemberCompany


def _compose(*, lang: str, template: str, context: dict, list_kind: str = "") -> dict:
    """A member mail in the recipient's language ``lang`` (``outbox_enqueue``'s arguments)."""
    if "url" in context:
        context = {**context, "url": mail.with_language(context["url"], lang)}
    return mail.render_mail(
        template=f"members/mail/{template}", context=context, lang=lang, list_kind=list_kind
    )


def _mail(*, key: str, purpose: str, to: str, lang: str, template: str, context: dict):
    """Render a mail in the recipient's language ``lang`` and put it in the outbox."""
    return outbox_enqueue(
        key=key, purpose=purpose, to=to, **_compose(lang=lang, template=template, context=context)
    )


def _active_admins():
    return (
        CompanyMembership.objects.filter(role=CompanyMembership.Role.ADMIN, user__is_active=True)
        .select_related("user")
        .order_by("joined_at")
    )


def company_admin_recipients(company: MemberCompany) -> list[tuple[str, str]]:
    """The company administrators' addresses and languages (the contact email, in the portal's
    first language, if it has none). Uses ``company.active_admins`` when a batch query
    prefetched it."""
    admins = getattr(company, "active_admins", None)
    if admins is None:
        admins = _active_admins().filter(company=company)
    recipients = [
        (membership.user.email, mail.user_language(membership.user)) for membership in admins
    ]
    if not recipients and company.contact_email:
        recipients = [(company.contact_email, settings.LANGUAGE_CODE)]
    return recipients
