"""Staff are told of new membership applications, relief requests and co-signatures.

The service that takes the arrival calls ``staff_notice_record`` in its transaction (one
``StaffNotice`` per object). The beat task ``core.staff_notices.digest`` (every
``STAFF_NOTICE_INTERVAL`` seconds) runs ``staff_notices_send``: it claims every notice not yet
told, and writes one mail per recipient listing all of them (a digest when many arrived
together), through the outbox, in the recipient's language. Recipients per kind come from
``StaffNotificationSetting`` (addresses and/or a group, edited in the admin). Running it again
sends nothing more: the notices are stamped ``notified_at`` in the same transaction.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from .. import mail
from ..models import StaffNotice, StaffNoticeKind, StaffNotificationSetting, User
from ..site import absolute_url
from .outbox import outbox_enqueue

# Where staff act on each kind of arrival (the admin URL name, given the object's id).
ACTION_URLS = {
    StaffNoticeKind.MEMBERSHIP_APPLICATION: "admin:members_membershipapplication_decide",
    StaffNoticeKind.RELIEF_REQUEST: "admin:members_reliefrequest_decide",
    StaffNoticeKind.COSIGNATURE: "admin:pledges_cosignature_change",
}
BATCH = 500


@transaction.atomic
def staff_notice_record(*, kind: str, obj: models.Model) -> StaffNotice:
    """Note an arrival staff are to be told of (once per object and kind)."""
    notice, _created = StaffNotice.objects.get_or_create(
        kind=kind,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        defaults={"object_repr": str(obj)[:255]},
    )
    return notice


def _recipients() -> dict[str, dict[str, str]]:
    """kind → {email: language}, from the active settings (three queries). Addresses of
    portal accounts and group members get their account's language."""
    rows = list(StaffNotificationSetting.objects.filter(is_active=True))
    emails = {e for row in rows for e in row.email_list()}
    accounts = {
        user.email.lower(): mail.user_language(user)
        for user in User.objects.filter(is_active=True, email__in=emails)
    }
    members: dict[int, dict[str, str]] = defaultdict(dict)
    links = User.groups.through.objects.filter(
        group_id__in={row.group_id for row in rows if row.group_id}, user__is_active=True
    ).select_related("user")
    for link in links:
        members[link.group_id][link.user.email.lower()] = mail.user_language(link.user)
    return {
        row.kind: {
            **{e: accounts.get(e, row.language) for e in row.email_list()},
            **members.get(row.group_id, {}),
        }
        for row in rows
    }


@transaction.atomic
def staff_notices_send(*, now=None) -> int:
    """Mail every notice not told yet, one digest per recipient; returns the mails written."""
    now = now or timezone.now()
    notices = list(
        StaffNotice.objects.select_for_update(skip_locked=True)
        .filter(notified_at__isnull=True)
        .order_by("created_at", "pk")[:BATCH]
    )
    if not notices:
        return 0
    recipients = _recipients()
    inbox: dict[str, tuple[str, list[StaffNotice]]] = {}
    for notice in notices:
        for email, lang in recipients.get(notice.kind, {}).items():
            inbox.setdefault(email, (lang, []))[1].append(notice)
    for email, (lang, items) in inbox.items():
        ids = ",".join(str(n.pk) for n in items)
        digest = hashlib.sha256(ids.encode()).hexdigest()[:16]
        groups = []
        for kind in StaffNoticeKind.values:
            rows = [
                {
                    "notice": n,
                    "url": mail.with_language(
                        absolute_url(reverse(ACTION_URLS[kind], args=[n.object_id])), lang
                    ),
                }
                for n in items
                if n.kind == kind
            ]
            if rows:
                groups.append({"kind": kind, "rows": rows})
        outbox_enqueue(
            key=f"core.staff_notices:{digest}:{email}",
            purpose="core.staff_notices",
            to=email,
            **mail.render_mail(
                template="core/mail/staff_notices",
                context={"groups": groups, "count": len(items)},
                lang=lang,
            ),
        )
    StaffNotice.objects.filter(pk__in=[n.pk for n in notices]).update(notified_at=now)
    return len(inbox)
