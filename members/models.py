"""Member companies, their users, membership fees and fee-relief requests."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cqa_portal.core import links
from cqa_portal.core.reference import IndustrySection, Province
from cqa_portal.core.validators import (
    validate_multi_line,
    validate_single_line,
    validate_uscc_format,
)

from . import conf
from .storage import private_storage

# Fee-relief reason categories: the impacts named in the survey findings.
RELIEF_REASONS = {
    "staff_returning": _("Staff returning to their posts"),
    "production": _("Production and manufacturing"),
    "sales": _("Sales"),
    "construction": _("On-site and external construction"),
    "raw_materials": _("Raw-material supply"),
    "costs": _("Rising costs"),
    "other": _("Other"),
}


class MembershipLevel(models.Model):
    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100, validators=[validate_single_line])
    name_en = models.CharField(
        _("English name"), max_length=100, blank=True, validators=[validate_single_line]
    )
    annual_fee = models.DecimalField(
        _("annual fee (CNY)"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("membership level")
        verbose_name_plural = _("membership levels")
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return self.name


class MemberCompany(models.Model):
    class Status(models.TextChoices):
        APPLICANT = "applicant", _("Applicant")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        LAPSED = "lapsed", _("Lapsed")

    class SizeBand(models.TextChoices):
        MICRO = "micro", _("Micro (under 10 staff)")
        SMALL = "small", _("Small (10–99 staff)")
        MEDIUM = "medium", _("Medium (100–999 staff)")
        LARGE = "large", _("Large (1,000 staff or more)")

    name = models.CharField(_("Chinese name"), max_length=200, validators=[validate_single_line])
    name_en = models.CharField(
        _("English name"), max_length=200, blank=True, validators=[validate_single_line]
    )
    uscc = models.CharField(
        _("unified social credit code"),
        max_length=18,
        unique=True,
        validators=[validate_uscc_format, validate_single_line],
        help_text=_("18 characters, as on the business licence."),
    )
    uscc_needs_review = models.BooleanField(
        _("credit code needs review"),
        default=False,
        help_text=_("The code has a valid format but its check character does not match."),
    )
    province = models.CharField(_("province"), max_length=2, choices=Province.choices)
    industry_section = models.CharField(
        _("industry section"), max_length=1, choices=IndustrySection.choices
    )
    industry_division = models.CharField(
        _("industry division"),
        max_length=100,
        blank=True,
        help_text=_("Optional finer industry, e.g. automobile manufacturing."),
        validators=[validate_single_line],
    )
    size_band = models.CharField(_("size"), max_length=10, choices=SizeBand.choices)
    level = models.ForeignKey(
        MembershipLevel,
        verbose_name=_("membership level"),
        on_delete=models.PROTECT,
        related_name="companies",
    )
    member_since = models.DateField(_("member since"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.APPLICANT
    )
    address = models.CharField(
        _("address"), max_length=255, blank=True, validators=[validate_single_line]
    )
    postal_code = models.CharField(
        _("postal code"), max_length=6, blank=True, validators=[validate_single_line]
    )
    contact_name = models.CharField(
        _("contact person"), max_length=100, blank=True, validators=[validate_single_line]
    )
    contact_phone = models.CharField(
        _("contact telephone"), max_length=30, blank=True, validators=[validate_single_line]
    )
    contact_email = models.EmailField(_("contact email"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("member company")
        verbose_name_plural = _("member companies")
        ordering = ["name"]
        indexes = [models.Index(fields=["status", "province"], name="company_status_prov_idx")]

    def __str__(self) -> str:
        return self.name


class CompanyMembership(models.Model):
    """A user belongs to one company, as its administrator or as a colleague."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("Company administrator")
        COLLEAGUE = "colleague", _("Colleague")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="company_membership",
    )
    company = models.ForeignKey(
        MemberCompany, verbose_name=_("company"), on_delete=models.CASCADE, related_name="members"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.COLLEAGUE)
    joined_at = models.DateTimeField(_("joined at"), auto_now_add=True)

    class Meta:
        verbose_name = _("company user")
        verbose_name_plural = _("company users")
        ordering = ["company", "-role", "joined_at"]

    def __str__(self) -> str:
        return f"{self.user} · {self.company}"

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN


class MembershipApplication(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("application status", "Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("applicant"),
        on_delete=models.CASCADE,
        related_name="membership_applications",
    )
    company = models.ForeignKey(
        MemberCompany,
        verbose_name=_("company"),
        on_delete=models.CASCADE,
        related_name="applications",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    message = models.TextField(
        _("message to the association"), blank=True, validators=[validate_multi_line]
    )
    decision_note = models.TextField(
        _("decision note"), blank=True, validators=[validate_multi_line]
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("submitted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership application")
        verbose_name_plural = _("membership applications")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company"],
                condition=Q(status="pending"),
                name="one_pending_application_per_company",
            )
        ]

    def __str__(self) -> str:
        return f"{self.company} ({self.get_status_display()})"


class Invitation(models.Model):
    """A company administrator invites a colleague by email."""

    company = models.ForeignKey(
        MemberCompany,
        verbose_name=_("company"),
        on_delete=models.CASCADE,
        related_name="invitations",
    )
    email = models.EmailField(_("email"))
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("invited at"), auto_now_add=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    # The random part of the invitation's signed link (cqa_portal.core.links); accepting or
    # withdrawing the invitation gives it a new one, which revokes the link.
    link_key = models.CharField(_("link key"), max_length=32, default=links.new_key, editable=False)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="one_open_invitation_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.company}"


class MembershipFee(models.Model):
    class Status(models.TextChoices):
        DUE = "due", _("Due")
        PAID = "paid", _("Paid")
        REDUCED = "reduced", _("Reduced")
        WAIVED = "waived", _("Waived")
        OVERDUE = "overdue", _("Overdue")

    company = models.ForeignKey(
        MemberCompany, verbose_name=_("company"), on_delete=models.CASCADE, related_name="fees"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    amount_due = models.DecimalField(
        _("amount due (CNY)"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    relief_amount = models.DecimalField(
        _("relief granted (CNY)"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    amount_paid = models.DecimalField(
        _("amount paid (CNY)"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    due_date = models.DateField(_("due date"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default="due")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership fee")
        verbose_name_plural = _("membership fees")
        ordering = ["-year", "company__name"]
        constraints = [
            models.UniqueConstraint(fields=["company", "year"], name="one_fee_per_company_year"),
            models.CheckConstraint(
                condition=Q(relief_amount__lte=models.F("amount_due")),
                name="relief_not_above_due",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_date"], name="fee_status_due_idx")]

    def __str__(self) -> str:
        return f"{self.company} · {self.year}"

    @property
    def outstanding(self) -> Decimal:
        return max(self.amount_due - self.relief_amount - self.amount_paid, Decimal("0"))


class FeePayment(models.Model):
    fee = models.ForeignKey(
        MembershipFee, verbose_name=_("fee"), on_delete=models.CASCADE, related_name="payments"
    )
    amount = models.DecimalField(
        _("amount (CNY)"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    paid_on = models.DateField(_("paid on"))
    reference = models.CharField(
        _("bank reference"), max_length=100, blank=True, validators=[validate_single_line]
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-paid_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.fee} · {self.amount}"


class ReliefReason(models.Model):
    """Reason categories, taken from the impacts in the survey findings."""

    code = models.SlugField(_("code"), max_length=30, unique=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("relief reason")
        verbose_name_plural = _("relief reasons")
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return str(RELIEF_REASONS.get(self.code, self.code))


class ReliefRequest(models.Model):
    class Kind(models.TextChoices):
        WAIVER = "waiver", _("Full waiver")
        REDUCTION = "reduction", _("Reduction by an amount")
        DEFERRAL = "deferral", _("Deferral to a date")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        UNDER_REVIEW = "under_review", _("Under review")
        APPROVED = "approved", _("Approved")
        PARTLY_APPROVED = "partly_approved", _("Partly approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    OPEN_STATUSES = (Status.DRAFT, Status.SUBMITTED, Status.UNDER_REVIEW)
    PENDING_STATUSES = (Status.SUBMITTED, Status.UNDER_REVIEW)
    GRANTED_STATUSES = (Status.APPROVED, Status.PARTLY_APPROVED)

    company = models.ForeignKey(
        MemberCompany,
        verbose_name=_("company"),
        on_delete=models.CASCADE,
        related_name="relief_requests",
    )
    year = models.PositiveSmallIntegerField(_("fee year"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    requested_amount = models.DecimalField(
        _("reduction requested (CNY)"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    deferral_until = models.DateField(_("defer payment until"), null=True, blank=True)
    reasons = models.ManyToManyField(ReliefReason, verbose_name=_("reasons"), blank=True)
    explanation = models.TextField(_("explanation"), blank=True, validators=[validate_multi_line])
    status = models.CharField(
        _("status"), max_length=15, choices=Status.choices, default=Status.DRAFT
    )
    granted_amount = models.DecimalField(
        _("relief granted (CNY)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    decision_note = models.TextField(
        _("decision note"), blank=True, validators=[validate_multi_line]
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("filed by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("fee-relief request")
        verbose_name_plural = _("fee-relief requests")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "year"],
                condition=Q(status__in=["draft", "submitted", "under_review"]),
                name="one_open_relief_request_per_year",
            )
        ]
        indexes = [models.Index(fields=["status", "year"], name="relief_status_year_idx")]

    def __str__(self) -> str:
        return f"{self.company} · {self.year} · {self.get_kind_display()}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_decided(self) -> bool:
        return self.status in (*self.GRANTED_STATUSES, self.Status.REJECTED)


class ReliefDocument(models.Model):
    """A supporting document, stored outside MEDIA_ROOT and served by a permission-checked view."""

    request = models.ForeignKey(
        ReliefRequest,
        verbose_name=_("request"),
        on_delete=models.CASCADE,
        related_name="documents",
    )
    file = models.FileField(_("file"), storage=private_storage, upload_to="relief/%Y/%m/")
    original_name = models.CharField(
        _("original file name"), max_length=255, validators=[validate_single_line]
    )
    content_type = models.CharField(
        _("content type"), max_length=50, validators=[validate_single_line]
    )
    size = models.PositiveIntegerField(_("size (bytes)"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("supporting document")
        verbose_name_plural = _("supporting documents")
        ordering = ["uploaded_at"]

    def __str__(self) -> str:
        return self.original_name


# The signed link in an invitation mail (cqa_portal.core.links). It counts from the moment of
# the invitation, so it is the same in the mail and on the invitee's member page.
INVITATION_LINK = links.LinkPurpose(
    salt="members.invitation",
    model=Invitation,
    max_age=lambda: conf.get().invitation_max_age,
    issued_field="created_at",
    select_related=("company",),
)
