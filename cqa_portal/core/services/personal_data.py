"""Everything the portal holds about one person, across apps: see it, download it, correct it,
erase it (PIPL). The one place for this; the self-service pages (``/me/data/``), the mailed
link for people without an account and the staff page all call these services.

A person is an email address, and their account when they have one (``Subject``). Erasure
keeps the facts of decisions: an account is anonymised in place (its name and address gone,
``str()`` a pseudonym such as "已删除的用户 #1a2b3c4d"), so audit entries, applications, relief
requests and survey responses keep their actor as that pseudonym; a signature is withdrawn as
with its own link (only an anonymous marker stays); a co-sign application keeps its
organisation and the decision; course registrations are cancelled (freeing the seat) and
deleted; mails to or about the person are deleted; their name and address are replaced by the
pseudonym in the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import links, mail
from ..errors import PortalError
from ..models import (
    ERASED_DOMAIN,
    AuditEntry,
    MailOptOut,
    OutboxMessage,
    PersonalDataRequest,
    StaffNotice,
)
from .audit import audit_log
from .outbox import outbox_enqueue


def _link_max_age() -> timedelta:
    return timedelta(hours=int(settings.PERSONAL_DATA_LINK_HOURS))


DATA_LINK = links.LinkPurpose(
    salt="core.personal_data",
    model=PersonalDataRequest,
    max_age=_link_max_age,
    issued_field="created_at",
)


@dataclass(frozen=True)
class Subject:
    """Whom a request is about: an address, and the account when there is one."""

    email: str
    user: object | None = None

    @classmethod
    def of(cls, *, email: str = "", user=None) -> Subject:
        email = (email or getattr(user, "email", "") or "").strip().lower()
        if user is None and email:
            user = get_user_model().objects.filter(email__iexact=email, is_active=True).first()
        return cls(email=email, user=user)

    @property
    def ref(self) -> str:
        """A pseudonym: a keyed hash of the address (the same person, the same reference)."""
        digest = hmac.new(settings.SECRET_KEY.encode(), self.email.encode(), hashlib.sha256)
        return digest.hexdigest()[:8]


@dataclass
class Section:
    """One kind of row held about the person: a title, field labels and the rows."""

    key: str
    title: str
    header: list[str]
    rows: list[list] = field(default_factory=list)


def _label(model, path: str) -> str:
    """The verbose name of a field path (``company__name`` → the company's name field)."""
    *relations, last = path.split("__")
    for name in relations:
        model = model._meta.get_field(name).related_model
    return str(model._meta.get_field(last).verbose_name)


def _sources(subject: Subject) -> list[tuple[str, object, list[str]]]:
    """(key, queryset, fields) of every table that holds something about the person."""
    from allauth.account.models import EmailAddress

    from courses.models import AttendanceRecord, Registration
    from members.models import (
        CompanyMembership,
        Invitation,
        MemberCompany,
        MembershipApplication,
        ReliefDocument,
        ReliefRequest,
    )
    from pledges.models import CoSignature, Signature
    from surveys.models import Response

    email, user = subject.email, subject.user
    none = Q(pk__in=[])
    mine = (lambda **kw: Q(**kw)) if user is not None else (lambda **kw: none)
    by_email = (lambda name: Q(**{f"{name}__iexact": email})) if email else (lambda name: none)
    users = get_user_model().objects.filter(pk=user.pk if user else None)
    return [
        (
            "account",
            users,
            ["email", "first_name", "last_name", "language", "date_joined", "last_login"]
            + ["privacy_consent_at", "privacy_consent_version"],
        ),
        (
            "email_addresses",
            EmailAddress.objects.filter(mine(user=user) | by_email("email")),
            ["email", "verified", "primary"],
        ),
        (
            "memberships",
            CompanyMembership.objects.filter(mine(user=user)),
            ["company__name", "role", "joined_at"],
        ),
        (
            "applications",
            MembershipApplication.objects.filter(mine(applicant=user)),
            ["company__name", "status", "message", "created_at", "decided_at"],
        ),
        (
            "company_contacts",
            MemberCompany.objects.filter(by_email("contact_email")),
            ["name", "contact_name", "contact_phone", "contact_email"],
        ),
        (
            "invitations",
            Invitation.objects.filter(by_email("email") | mine(invited_by=user)),
            ["company__name", "email", "created_at", "accepted_at", "revoked_at"],
        ),
        (
            "relief_requests",
            ReliefRequest.objects.filter(mine(created_by=user)),
            ["company__name", "year", "kind", "status", "explanation", "submitted_at"],
        ),
        (
            "relief_documents",
            ReliefDocument.objects.filter(mine(uploaded_by=user)),
            ["request__company__name", "original_name", "uploaded_at"],
        ),
        (
            "signatures",
            Signature.objects.filter(by_email("email") | mine(signed_by=user)),
            ["initiative__title", "kind", "status", "name", "title", "organisation"]
            + ["province", "email", "show_name", "created_at", "confirmed_at"]
            + ["consent_at", "consent_version", "ip_hash"],
        ),
        (
            "cosignatures",
            CoSignature.objects.filter(by_email("contact_email")),
            ["organisation", "contact_name", "contact_title", "contact_email", "contact_phone"]
            + ["status", "created_at", "consent_at", "consent_version", "ip_hash"],
        ),
        (
            "registrations",
            Registration.objects.filter(by_email("email") | mine(user=user)),
            ["session__title", "name", "email", "organisation", "status", "created_at"]
            + ["confirmed_at", "privacy_consent_at", "privacy_consent_version"],
        ),
        (
            "attendance",
            AttendanceRecord.objects.filter(by_email("email")),
            ["session__title", "email", "participants"],
        ),
        (
            "survey_responses",
            Response.objects.filter(mine(created_by=user) | mine(submitted_by=user)),
            ["survey__title", "company__name", "status", "submitted_at"],
        ),
        (
            "audit_entries",
            AuditEntry.objects.filter(mine(actor=user)),
            ["created_at", "action", "object_repr", "from_state", "to_state"],
        ),
        (
            "mails",
            OutboxMessage.objects.filter(by_email("to")),
            ["created_at", "purpose", "to", "subject", "status", "sent_at"],
        ),
        ("mail_opt_outs", MailOptOut.objects.filter(by_email("email")), ["kind", "created_at"]),
    ]


SECTION_TITLES = {
    "account": gettext_lazy("Account"),
    "email_addresses": gettext_lazy("Email addresses"),
    "memberships": gettext_lazy("Company memberships"),
    "applications": gettext_lazy("Membership applications"),
    "company_contacts": gettext_lazy("Contact person of a member company"),
    "invitations": gettext_lazy("Invitations"),
    "relief_requests": gettext_lazy("Fee-relief requests"),
    "relief_documents": gettext_lazy("Fee-relief documents"),
    "signatures": gettext_lazy("Signatures"),
    "cosignatures": gettext_lazy("Alliance co-sign applications"),
    "registrations": gettext_lazy("Course registrations"),
    "attendance": gettext_lazy("Course attendance"),
    "survey_responses": gettext_lazy("Survey responses"),
    "audit_entries": gettext_lazy("Your actions in the audit log"),
    "mails": gettext_lazy("Mails to you"),
    "mail_opt_outs": gettext_lazy("Bulk mails you unsubscribed from"),
}


def personal_data_collect(*, email: str = "", user=None) -> list[Section]:
    """Every row that references the person, by table (sections with no rows are left out)."""
    subject = Subject.of(email=email, user=user)
    if not subject.email and subject.user is None:
        return []
    sections = []
    for key, queryset, fields in _sources(subject):
        rows = [list(values) for values in queryset.order_by("pk").values_list(*fields)]
        if rows:
            header = [_label(queryset.model, name) for name in fields]
            sections.append(Section(key, str(SECTION_TITLES[key]), header, rows))
    return sections


def _plain(value):
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def personal_data_json(sections: list[Section]) -> bytes:
    """The download as JSON: ``{section: [{field label: value}, …]}``."""
    data = {
        section.title: [
            dict(zip(section.header, map(_plain, row), strict=True)) for row in section.rows
        ]
        for section in sections
    }
    return json.dumps(data, ensure_ascii=False, indent=2).encode()


def personal_data_sheets(sections: list[Section]):
    """The download as spreadsheet sheets (``core.exports``), one per section."""
    from ..exports import Sheet

    return [Sheet(title=s.title, header=s.header, rows=s.rows) for s in sections]


# --- correct -------------------------------------------------------------------------------


@transaction.atomic
def personal_data_correct(
    *, email: str = "", user=None, name: str = "", organisation: str = "", phone: str = ""
) -> int:
    """Correct what the person gave, wherever they gave it (empty: unchanged): the name on the
    account, their own signatures, course registrations and co-sign applications; the
    organisation on signatures and registrations; the telephone on co-sign applications. The
    email address of an account is changed through the account's email page (allauth)."""
    from courses.models import Registration
    from pledges.models import CoSignature, Signature, SignatureKind

    subject = Subject.of(email=email, user=user)
    name, organisation, phone = name.strip(), organisation.strip(), phone.strip()
    changed = 0
    if name and subject.user is not None:
        changed += get_user_model().objects.filter(pk=subject.user.pk).update(first_name=name[:150])
    if not subject.email:
        return changed
    signatures = Signature.objects.filter(email__iexact=subject.email, company__isnull=True)
    registrations = Registration.objects.filter(email__iexact=subject.email)
    cosignatures = CoSignature.objects.filter(contact_email__iexact=subject.email)
    if name:
        changed += signatures.update(name=name[:100])
        changed += registrations.update(name=name[:100])
        changed += cosignatures.update(contact_name=name[:100])
    if organisation:
        changed += signatures.filter(kind=SignatureKind.INDIVIDUAL).update(
            organisation=organisation[:200]
        )
        changed += registrations.update(organisation=organisation[:200])
    if phone:
        changed += cosignatures.update(contact_phone=phone[:30])
    return changed


# --- erase ---------------------------------------------------------------------------------


def sole_admin_company(user):
    """The company whose only administrator ``user`` is, while it has other users (they must
    hand the role to one of them before erasing), else None."""
    from members.models import CompanyMembership

    membership = CompanyMembership.objects.filter(user=user).select_related("company").first()
    if membership is None or membership.role != CompanyMembership.Role.ADMIN:
        return None
    company = membership.company
    others = CompanyMembership.objects.filter(company=company).exclude(user=user)
    if others.filter(role=CompanyMembership.Role.ADMIN).exists() or not others.exists():
        return None
    return company


def _hand_over(user, successor_id: int | None, actor) -> None:
    from members.models import CompanyMembership

    company = sole_admin_company(user)
    if company is None:
        return
    successor = (
        CompanyMembership.objects.filter(company=company, pk=successor_id)
        .exclude(user=user)
        .first()
        if successor_id
        else None
    )
    if successor is None:
        raise PortalError(
            _(
                "You are the only administrator of %(company)s. Choose a colleague to take over "
                "the role before your account is erased."
            )
            % {"company": company.name},
            code="handover_needed",
        )
    successor.role = CompanyMembership.Role.ADMIN
    successor.save(update_fields=["role"])
    audit_log(
        actor=actor,
        action="members.membership.role_changed",
        obj=successor,
        from_state=CompanyMembership.Role.COLLEAGUE,
        to_state=CompanyMembership.Role.ADMIN,
        detail="handed over before an account was erased",
    )


def _identifiers(subject: Subject) -> list[str]:
    """The person's name(s) and address as typed anywhere, to find them in free text."""
    from courses.models import Registration
    from pledges.models import CoSignature, Signature

    found = {subject.email} if subject.email else set()
    user = subject.user
    if user is not None:
        found.update([user.email, user.get_full_name()])
    if subject.email:
        found.update(
            Signature.objects.filter(email__iexact=subject.email, company__isnull=True).values_list(
                "name", flat=True
            )
        )
        found.update(
            Registration.objects.filter(email__iexact=subject.email).values_list("name", flat=True)
        )
        found.update(
            CoSignature.objects.filter(contact_email__iexact=subject.email).values_list(
                "contact_name", flat=True
            )
        )
    # Two characters is a full Chinese name; one is too common to replace.
    return sorted({value for value in found if value and len(value) >= 2}, key=len, reverse=True)


def _rows_of(subject: Subject) -> list[tuple[type, list[int]]]:
    """(model, ids) of the person's own rows, whose audit entries name them."""
    from members.models import CompanyMembership

    rows = []
    for key, queryset, _fields in _sources(subject):
        if key in {"account", "signatures", "cosignatures", "registrations", "invitations"}:
            rows.append((queryset.model, list(queryset.values_list("pk", flat=True))))
    if subject.user is not None:
        memberships = CompanyMembership.objects.filter(user=subject.user)
        rows.append((CompanyMembership, list(memberships.values_list("pk", flat=True))))
    return rows


def _relabel_audit(rows, label: str) -> None:
    """Audit entries about the person's rows name them (``str()`` of the row): the pseudonym
    instead. The entries themselves, their actions and states stay."""
    from django.contrib.contenttypes.models import ContentType

    for model, ids in rows:
        if ids:
            for log in (AuditEntry, StaffNotice):  # staff notices name their object too
                log.objects.filter(
                    content_type=ContentType.objects.get_for_model(model),
                    object_id__in=[str(pk) for pk in ids],
                ).update(object_repr=label[:255])


def _scrub_text(identifiers: list[str], label: str) -> None:
    """Replace the person's names and address by the pseudonym in the audit log; delete mails
    that mention them (the ledger of mails to and about them)."""
    if not identifiers:
        return
    mentions = Q()
    for value in identifiers:
        mentions |= Q(object_repr__contains=value) | Q(detail__contains=value)
    for entry in AuditEntry.objects.filter(mentions):
        for value in identifiers:
            entry.object_repr = entry.object_repr.replace(value, label)[:255]
            entry.detail = entry.detail.replace(value, label)
        entry.save(update_fields=["object_repr", "detail"])
    notices = Q()
    for value in identifiers:
        notices |= Q(object_repr__contains=value)
    for notice in StaffNotice.objects.filter(notices):
        for value in identifiers:
            notice.object_repr = notice.object_repr.replace(value, label)[:255]
        notice.save(update_fields=["object_repr"])
    mails = Q()
    for value in identifiers:
        mails |= Q(to__iexact=value) | Q(subject__contains=value) | Q(body__contains=value)
        mails |= Q(html_body__contains=value)
    OutboxMessage.objects.filter(mails).delete()


@transaction.atomic
def personal_data_erase(
    *, email: str = "", user=None, actor=None, successor_id: int | None = None, reason: str = ""
) -> str:
    """Erase everything held about the person (see the module's doc); returns the pseudonym.
    The only administrator of a company with other users must name a successor
    (``successor_id``: a ``CompanyMembership`` of a colleague) or PortalError
    ``handover_needed`` is raised and nothing is changed."""
    from courses.models import AttendanceRecord, Registration
    from courses.services import registration_cancel
    from members.models import CompanyMembership, Invitation, MemberCompany
    from pledges.models import CoSignature, Signature
    from pledges.services import signatures_erase
    from pledges.services.moderation import cosign_contacts_erase

    subject = Subject.of(email=email, user=user)
    account = subject.user
    label = _("Deleted user #%(ref)s") % {"ref": subject.ref}
    if account is not None:
        _hand_over(account, successor_id, actor)
    identifiers = _identifiers(subject)
    _relabel_audit(_rows_of(subject), label)
    now = timezone.now()
    why = reason or "erased on the person's request"
    if subject.email:
        mine = Q(email__iexact=subject.email) & Q(company__isnull=True)
        if account is not None:
            mine |= Q(signed_by=account, company__isnull=True)
        signatures_erase(
            signature_ids=Signature.objects.filter(mine).values_list("pk", flat=True),
            actor=actor,
            reason=why,
        )
        cosign_contacts_erase(
            queryset=CoSignature.objects.filter(contact_email__iexact=subject.email)
        )
        registrations = Registration.objects.filter(email__iexact=subject.email)
        if account is not None:
            registrations = Registration.objects.filter(
                Q(email__iexact=subject.email) | Q(user=account)
            )
        for registration in registrations.exclude(status=Registration.Status.CANCELLED).filter(
            session__ends_at__gt=now
        ):
            registration_cancel(registration_id=registration.pk, actor=actor, reason=why)
        registrations.delete()
        AttendanceRecord.objects.filter(email__iexact=subject.email).update(email="")
        Invitation.objects.filter(email__iexact=subject.email).delete()
        MemberCompany.objects.filter(contact_email__iexact=subject.email).update(
            contact_name="", contact_phone="", contact_email=""
        )
        MailOptOut.objects.filter(email__iexact=subject.email).delete()
        PersonalDataRequest.objects.filter(email__iexact=subject.email).delete()
    if account is not None:
        from allauth.account.models import EmailAddress

        # Invitation mails carry the inviter's name (perhaps one corrected since).
        invited = Q()
        for pk in Invitation.objects.filter(invited_by=account).values_list("pk", flat=True):
            invited |= Q(key__startswith=f"members.invitation:{pk}:")
        if invited:
            OutboxMessage.objects.filter(invited).delete()
        # A company signature stays the company's; only the signer's name goes.
        Signature.objects.filter(signed_by=account, company__isnull=False).update(name="")
        CompanyMembership.objects.filter(user=account).delete()
        EmailAddress.objects.filter(user=account).delete()
        model = get_user_model()
        model.objects.filter(pk=account.pk).update(
            email=f"erased-{subject.ref}{ERASED_DOMAIN}",
            username=f"erased-{subject.ref}",
            first_name="",
            last_name="",
            password="!",  # noqa: S106 - unusable: nobody can log in
            is_active=False,
            is_staff=False,
            is_superuser=False,
            privacy_consent_at=None,
            privacy_consent_version="",
            last_login=None,
        )
    _scrub_text(identifiers, label)
    return label


def personal_data_erase_logged(*, staff, email: str, reason: str) -> str:
    """Staff erase on a request received by post or telephone: logged in the audit log."""
    subject = Subject.of(email=email)
    label = personal_data_erase(email=subject.email, user=subject.user, actor=staff, reason=reason)
    audit_log(
        actor=staff,
        action="core.personal_data.erased",
        obj=staff,
        detail=f"{label}: {reason}",
    )
    return label


def personal_data_export_logged(*, staff, email: str, reason: str) -> list[Section]:
    """Staff export on a request received by post or telephone: logged in the audit log."""
    subject = Subject.of(email=email)
    audit_log(
        actor=staff,
        action="core.personal_data.exported",
        obj=staff,
        detail=f"#{subject.ref}: {reason}",
    )
    return personal_data_collect(email=subject.email, user=subject.user)


# --- the mailed link for people without an account ----------------------------------------


@transaction.atomic
def personal_data_link_send(*, email: str, at=None) -> bool:
    """Mail a link to the person's data to the address, when the portal holds something about
    it (the page answers the same either way). At most one mail per address and hour."""
    from ..site import absolute_url

    email = email.strip().lower()
    at = at or timezone.now()
    if not email or not personal_data_collect(email=email):
        return False
    recent = PersonalDataRequest.objects.filter(
        email=email, created_at__gt=at - timedelta(hours=1)
    ).exists()
    if recent:
        return False
    request = PersonalDataRequest.objects.create(email=email, link_key=links.new_key())
    lang = _language_of(email)
    from django.urls import reverse

    url = mail.with_language(
        absolute_url(reverse("core:data_link", args=[links.make(DATA_LINK, request)])), lang
    )
    outbox_enqueue(
        key=f"core.personal_data:{request.pk}",
        purpose="core.personal_data_link",
        to=email,
        **mail.render_mail(
            template="core/mail/data_link",
            context={"url": url, "hours": int(settings.PERSONAL_DATA_LINK_HOURS)},
            lang=lang,
        ),
    )
    return True


def _language_of(email: str) -> str:
    from courses.models import Registration
    from pledges.models import Signature

    for model in (Signature, Registration):
        row = model.objects.filter(email__iexact=email).order_by("-pk").first()
        if row is not None:
            return mail.mail_language(row.language)
    return mail.mail_language(settings.LANGUAGE_CODE)


def personal_data_requests_purge(*, at=None) -> int:
    """``core.retention``'s ``data_request_days``: old link requests go (beat, daily)."""
    from .. import retention

    at = at or timezone.now()
    cutoff = retention.get().cutoff("data_request_days", at)
    return PersonalDataRequest.objects.filter(created_at__lt=cutoff).delete()[0]
