"""Open letters, initiatives and their signatures, the alliance and its co-signers."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cqa_portal.core import links
from cqa_portal.core.localize import localized
from cqa_portal.core.reference import Province
from cqa_portal.core.validators import validate_multi_line, validate_single_line

from . import conf


class PublishedQuerySet(models.QuerySet):
    def published(self, *, at=None):
        from django.utils import timezone

        return self.filter(is_published=True, published_at__lte=at or timezone.now())


class Publishable(models.Model):
    """Staff publish a text with a flag and a date; it is public from that date on."""

    is_published = models.BooleanField(_("published"), default=False)
    published_at = models.DateTimeField(
        _("publication date"),
        null=True,
        blank=True,
        help_text=_("Public from this moment on. Left empty, publishing sets it to now."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PublishedQuerySet.as_manager()

    class Meta:
        abstract = True


class Initiative(Publishable):
    """A numbered call to action that people and organisations can sign."""

    slug = models.SlugField(
        _("address name"),
        max_length=80,
        unique=True,
        help_text=_("Part of the web address; never change it once published."),
    )
    title = models.CharField(_("title"), max_length=200, validators=[validate_single_line])
    title_en = models.CharField(
        _("English title"), max_length=200, blank=True, validators=[validate_single_line]
    )
    intro = models.TextField(
        _("introduction"),
        blank=True,
        help_text=_("Markdown. Scripts and raw HTML are removed."),
        validators=[validate_multi_line],
    )
    intro_en = models.TextField(
        _("English introduction"), blank=True, validators=[validate_multi_line]
    )
    accepts_signatures = models.BooleanField(
        _("open for signatures"),
        default=True,
        help_text=_("Enterprises and individuals can sign it on the portal."),
    )

    class Meta:
        verbose_name = _("initiative")
        verbose_name_plural = _("initiatives")
        ordering = ["-published_at", "-pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def title_display(self) -> str:
        return localized(self, "title")

    @property
    def intro_display(self) -> str:
        return localized(self, "intro")


class InitiativeItem(models.Model):
    initiative = models.ForeignKey(
        Initiative, verbose_name=_("initiative"), on_delete=models.CASCADE, related_name="items"
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    text = models.TextField(_("text"), validators=[validate_multi_line])
    text_en = models.TextField(_("English text"), blank=True, validators=[validate_multi_line])

    class Meta:
        verbose_name = _("initiative item")
        verbose_name_plural = _("initiative items")
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return self.text[:60]

    @property
    def text_display(self) -> str:
        return localized(self, "text")


class OpenLetter(Publishable):
    slug = models.SlugField(
        _("address name"),
        max_length=80,
        unique=True,
        help_text=_("The letter stays at /open-letter/<address name>/; never change it."),
    )
    title = models.CharField(_("title"), max_length=200, validators=[validate_single_line])
    title_en = models.CharField(
        _("English title"), max_length=200, blank=True, validators=[validate_single_line]
    )
    date = models.DateField(_("letter date"))
    addressees = models.CharField(
        _("addressees"), max_length=300, validators=[validate_single_line]
    )
    addressees_en = models.CharField(
        _("English addressees"), max_length=300, blank=True, validators=[validate_single_line]
    )
    body = models.TextField(
        _("body"),
        help_text=_("Markdown. Scripts and raw HTML are removed."),
        validators=[validate_multi_line],
    )
    body_en = models.TextField(_("English body"), blank=True, validators=[validate_multi_line])
    initiative = models.ForeignKey(
        Initiative,
        verbose_name=_("initiative"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="letters",
        help_text=_("The initiative the letter carries, which readers can sign."),
    )

    class Meta:
        verbose_name = _("open letter")
        verbose_name_plural = _("open letters")
        ordering = ["-published_at", "-pk"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("pledges:letter_detail", kwargs={"slug": self.slug})

    @property
    def title_display(self) -> str:
        return localized(self, "title")

    @property
    def addressees_display(self) -> str:
        return localized(self, "addressees")

    @property
    def body_display(self) -> str:
        return localized(self, "body")


class Commitment(models.Model):
    letter = models.ForeignKey(
        OpenLetter,
        verbose_name=_("open letter"),
        on_delete=models.CASCADE,
        related_name="commitments",
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    text = models.TextField(_("text"), validators=[validate_multi_line])
    text_en = models.TextField(_("English text"), blank=True, validators=[validate_multi_line])

    class Meta:
        verbose_name = _("commitment")
        verbose_name_plural = _("commitments")
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return self.text[:60]

    @property
    def text_display(self) -> str:
        return localized(self, "text")


class Alliance(Publishable):
    slug = models.SlugField(_("address name"), max_length=80, unique=True)
    name = models.CharField(_("name"), max_length=200, validators=[validate_single_line])
    name_en = models.CharField(
        _("English name"), max_length=200, blank=True, validators=[validate_single_line]
    )
    founded_on = models.DateField(_("founded on"))
    description = models.TextField(
        _("description"),
        blank=True,
        help_text=_("Markdown. Scripts and raw HTML are removed."),
        validators=[validate_multi_line],
    )
    description_en = models.TextField(
        _("English description"), blank=True, validators=[validate_multi_line]
    )
    initiative = models.ForeignKey(
        Initiative,
        verbose_name=_("initiative"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="alliances",
        help_text=_("The alliance's own initiative, which organisations can apply to co-sign."),
    )

    class Meta:
        verbose_name = _("alliance")
        verbose_name_plural = _("alliances")
        ordering = ["-published_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def name_display(self) -> str:
        return localized(self, "name")

    @property
    def description_display(self) -> str:
        return localized(self, "description")


class AllianceMember(models.Model):
    alliance = models.ForeignKey(
        Alliance, verbose_name=_("alliance"), on_delete=models.CASCADE, related_name="members"
    )
    name = models.CharField(_("name"), max_length=200, validators=[validate_single_line])
    name_en = models.CharField(
        _("English name"), max_length=200, blank=True, validators=[validate_single_line]
    )
    short_name = models.CharField(
        _("short name"), max_length=50, blank=True, validators=[validate_single_line]
    )
    website = models.URLField(_("website"), blank=True)
    joined_on = models.DateField(_("joined on"))
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_sample = models.BooleanField(
        _("sample entry"),
        default=False,
        help_text=_("Demonstration data, not a real member; shown with a 'sample' mark."),
    )

    class Meta:
        verbose_name = _("alliance member")
        verbose_name_plural = _("alliance members")
        ordering = ["order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["alliance", "name"], name="pledges_member_name_once")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name_display(self) -> str:
        return localized(self, "name")


class SignatureKind(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")
    INDIVIDUAL = "individual", _("Individual quality worker")


class Signature(models.Model):
    """One signature of an initiative. Only confirmed, visible signatures count; withdrawal
    erases the personal data and leaves an anonymous marker."""

    Kind = SignatureKind

    class Status(models.TextChoices):
        PENDING = "pending", _("Unconfirmed")
        CONFIRMED = "confirmed", _("Confirmed")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    initiative = models.ForeignKey(
        Initiative,
        verbose_name=_("initiative"),
        on_delete=models.PROTECT,
        related_name="signatures",
    )
    kind = models.CharField(_("signing as"), max_length=10, choices=SignatureKind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    name = models.CharField(
        _("signer's name"), max_length=100, blank=True, validators=[validate_single_line]
    )
    title = models.CharField(
        _("signer's title"), max_length=100, blank=True, validators=[validate_single_line]
    )
    organisation = models.CharField(
        _("organisation"), max_length=200, blank=True, validators=[validate_single_line]
    )
    uscc = models.CharField(
        _("unified social credit code"),
        max_length=18,
        blank=True,
        validators=[validate_single_line],
    )
    uscc_needs_review = models.BooleanField(
        _("credit code needs review"),
        default=False,
        help_text=_("The code has a valid format but its check character does not match."),
    )
    province = models.CharField(_("province"), max_length=2, choices=Province.choices, blank=True)
    email = models.EmailField(_("email"), blank=True)
    show_name = models.BooleanField(_("name shown publicly"), default=False)
    company = models.ForeignKey(
        "members.MemberCompany",
        verbose_name=_("member company"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pledge_signatures",
        help_text=_("Set when a company administrator signed for the company in the member area."),
    )
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signed by user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    link_key = models.CharField(_("link key"), max_length=32, editable=False)
    ip_hash = models.CharField(
        _("IP hash"),
        max_length=64,
        blank=True,
        help_text=_("Salted one-way hash of the IP address, erased after 30 days."),
        validators=[validate_single_line],
    )
    consent_at = models.DateTimeField(_("privacy notice accepted at"), null=True, blank=True)
    consent_version = models.CharField(
        _("privacy notice version accepted"), max_length=20, blank=True, editable=False
    )
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text=_("The language the person used; mails to them are written in it."),
    )
    created_at = models.DateTimeField(_("signed at"), auto_now_add=True, db_index=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(
        _("confirmation last sent at"), null=True, blank=True
    )
    confirmations_sent = models.PositiveSmallIntegerField(_("confirmations sent"), default=0)
    is_hidden = models.BooleanField(
        _("hidden by staff"),
        default=False,
        help_text=_("A hidden signature is neither shown nor counted."),
    )

    # Confirmed and shown, but the credit code's check character does not match: staff check
    # the organisation and hide the signature if it is not genuine.
    AWAITING_MODERATION = Q(status="confirmed", is_hidden=False, uscc_needs_review=True)

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["initiative", "email"],
                condition=~Q(email=""),
                name="pledges_one_signature_per_email",
            ),
            models.UniqueConstraint(
                fields=["initiative", "company"],
                condition=Q(company__isnull=False),
                name="pledges_one_signature_per_company",
            ),
        ]
        indexes = [
            # The public wall: confirmed, visible, opted-in, newest first.
            models.Index(
                fields=["initiative", "-confirmed_at"],
                condition=Q(status="confirmed", is_hidden=False, show_name=True),
                name="pledges_wall_idx",
            ),
            models.Index(fields=["status", "created_at"], name="pledges_status_created_idx"),
        ]

    def __str__(self) -> str:
        # No personal data: this text is copied into the audit log, which outlives withdrawal.
        return _("Signature #%(pk)s") % {"pk": self.pk}

    @property
    def display_name(self) -> str:
        """What the public wall shows: the organisation for an enterprise, else the person."""
        if self.kind == SignatureKind.ENTERPRISE:
            return self.organisation
        return self.name

    @property
    def counts(self) -> bool:
        return self.status == self.Status.CONFIRMED and not self.is_hidden


class SignatureTally(models.Model):
    """Exact counts of confirmed, visible signatures per initiative, kind and province, kept in
    step by the services that confirm, withdraw, hide and show signatures, so public pages never
    count the signature table."""

    initiative = models.ForeignKey(
        Initiative, verbose_name=_("initiative"), on_delete=models.CASCADE, related_name="tallies"
    )
    kind = models.CharField(_("signing as"), max_length=10, choices=SignatureKind.choices)
    province = models.CharField(_("province"), max_length=2, choices=Province.choices)
    confirmed = models.IntegerField(_("confirmed signatures"), default=0)
    public = models.IntegerField(_("signatures shown by name"), default=0)

    class Meta:
        verbose_name = _("signature count")
        verbose_name_plural = _("signature counts")
        constraints = [
            models.UniqueConstraint(
                fields=["initiative", "kind", "province"], name="pledges_tally_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.initiative_id}/{self.kind}/{self.province}: {self.confirmed}"


class CoSignature(models.Model):
    """An organisation's application to co-sign the alliance initiative. Shown publicly only
    after staff verified and approved it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    class OrganisationType(models.TextChoices):
        ASSOCIATION = "association", _("Association or chamber of commerce")
        ENTERPRISE = "enterprise", _("Enterprise")
        INSTITUTION = "institution", _("Public institution or research body")
        OTHER = "other", _("Other organisation")

    alliance = models.ForeignKey(
        Alliance, verbose_name=_("alliance"), on_delete=models.CASCADE, related_name="cosignatures"
    )
    organisation = models.CharField(
        _("organisation name"), max_length=200, validators=[validate_single_line]
    )
    organisation_en = models.CharField(
        _("English name"), max_length=200, blank=True, validators=[validate_single_line]
    )
    organisation_type = models.CharField(
        _("type of organisation"), max_length=12, choices=OrganisationType.choices
    )
    uscc = models.CharField(
        _("unified social credit code"),
        max_length=18,
        blank=True,
        validators=[validate_single_line],
    )
    uscc_needs_review = models.BooleanField(_("credit code needs review"), default=False)
    province = models.CharField(_("province"), max_length=2, choices=Province.choices)
    website = models.URLField(_("website"), blank=True)
    contact_name = models.CharField(
        _("contact person"), max_length=100, validators=[validate_single_line]
    )
    contact_title = models.CharField(
        _("contact's title"), max_length=100, blank=True, validators=[validate_single_line]
    )
    contact_email = models.EmailField(_("contact email"))
    contact_phone = models.CharField(
        _("contact telephone"), max_length=30, blank=True, validators=[validate_single_line]
    )
    statement = models.TextField(_("statement"), blank=True, validators=[validate_multi_line])
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    decision_note = models.TextField(
        _("decision note"),
        blank=True,
        help_text=_("How it was verified, or why it was rejected."),
        validators=[validate_multi_line],
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
    ip_hash = models.CharField(
        _("IP hash"), max_length=64, blank=True, validators=[validate_single_line]
    )
    consent_at = models.DateTimeField(_("privacy notice accepted at"), null=True, blank=True)
    consent_version = models.CharField(
        _("privacy notice version accepted"), max_length=20, blank=True, editable=False
    )
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text=_("The language the person used; mails to them are written in it."),
    )
    created_at = models.DateTimeField(_("applied at"), auto_now_add=True)

    class Meta:
        verbose_name = _("alliance co-signature")
        verbose_name_plural = _("alliance co-signatures")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["alliance", "status"], name="pledges_cosign_status_idx")]

    def __str__(self) -> str:
        return self.organisation

    @property
    def organisation_display(self) -> str:
        return localized(self, "organisation")


# The signed links in signature mails (cqa_portal.core.links): each carries the signature's id
# and its random link key. Both expire; an expired withdraw link's page sends a new one, so
# withdrawing consent stays possible.
CONFIRM_LINK = links.LinkPurpose(
    salt="pledges.signature.confirm",
    model=Signature,
    max_age=lambda: conf.get().confirm_max_age,
    select_related=("initiative",),
)
WITHDRAW_LINK = links.LinkPurpose(
    salt="pledges.signature.withdraw",
    model=Signature,
    max_age=lambda: conf.get().withdraw_link_max_age,
    select_related=("initiative",),
)
