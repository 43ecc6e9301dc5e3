from django import forms
from django.utils.translation import gettext_lazy as _

from cqa_portal.core import retention
from cqa_portal.core.forms import EmailField, PortalForm, PortalModelForm, PrivacyConsentField
from cqa_portal.core.reference import Province
from cqa_portal.core.validators import normalize_uscc, validate_uscc_format

from .models import CoSignature, SignatureKind
from .services import SignatureInput

# Bots fill every field; people never see this one (hidden with CSS, out of the tab order).
HONEYPOT_FIELD = "homepage_url"

PROVINCE_CHOICES = [("", _("— choose —")), *Province.choices]


def clean_uscc_value(value: str) -> str:
    code = normalize_uscc(value)
    if code:
        validate_uscc_format(code)
    return code


class _SignatureForm(PortalForm):
    kind: str = ""

    province = forms.ChoiceField(label=_("Province"), choices=PROVINCE_CHOICES)
    email = EmailField(
        label=_("Email"),
        help_text=_("We send you a link to confirm your signature. It is never shown."),
    )
    privacy_consent = PrivacyConsentField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The period the privacy notice states and the purge enforces (core.retention).
        self.fields["privacy_consent"].help_text = _(
            "We keep your details to confirm and count your signature and, if you agree, to "
            "show your name. Unconfirmed signatures are deleted after %(kept)s days; you can "
            "withdraw at any time with the link in our email, and your details are then erased."
        ) % {"kept": retention.get().unconfirmed_signature_days}

    def signature_input(self) -> SignatureInput:
        data = self.cleaned_data
        return SignatureInput(
            kind=self.kind,
            name=data["name"],
            email=data["email"],
            province=data["province"],
            organisation=data.get("organisation", ""),
            title=data.get("title", ""),
            uscc=data.get("uscc", ""),
            show_name=data.get("show_name", False),
        )


class EnterpriseSignatureForm(_SignatureForm):
    kind = SignatureKind.ENTERPRISE

    organisation = forms.CharField(label=_("Name of the enterprise"), max_length=200)
    uscc = forms.CharField(
        label=_("Unified social credit code (optional)"),
        max_length=30,
        required=False,
        help_text=_("18 characters, as on the business licence."),
    )
    name = forms.CharField(label=_("Your name"), max_length=100)
    title = forms.CharField(label=_("Your title"), max_length=100)
    show_name = forms.BooleanField(
        label=_("Show the enterprise's name on the public list of signatories"), required=False
    )

    field_order = [
        "organisation", "uscc", "name", "title", "province", "email", "show_name",
        "privacy_consent",
    ]  # fmt: skip

    def clean_uscc(self) -> str:
        return clean_uscc_value(self.cleaned_data.get("uscc", ""))


class IndividualSignatureForm(_SignatureForm):
    kind = SignatureKind.INDIVIDUAL

    name = forms.CharField(label=_("Your name"), max_length=100)
    organisation = forms.CharField(label=_("Organisation you work for"), max_length=200)
    show_name = forms.BooleanField(
        label=_("Show my name on the public list of signatories"), required=False
    )

    field_order = ["name", "organisation", "province", "email", "show_name", "privacy_consent"]


SIGNATURE_FORMS = {
    SignatureKind.ENTERPRISE: EnterpriseSignatureForm,
    SignatureKind.INDIVIDUAL: IndividualSignatureForm,
}


def signature_forms(data=None, *, kind: str = "") -> dict:
    """Both sign forms, the one named by ``kind`` bound to ``data``; ids kept apart by prefix."""
    return {
        key: form_class(data if key == kind else None, prefix=key[:3])
        for key, form_class in SIGNATURE_FORMS.items()
    }


class CompanySignForm(PortalForm):
    show_name = forms.BooleanField(
        label=_("Show our company's name on the public list of signatories"),
        required=False,
        initial=True,
    )


class WallFilterForm(PortalForm):
    kind = forms.ChoiceField(
        label=_("Signing as"),
        choices=[("", _("Everyone")), *SignatureKind.choices],
        required=False,
    )
    province = forms.ChoiceField(
        label=_("Province"),
        choices=[("", _("All provinces")), *Province.choices],
        required=False,
    )


class CoSignForm(PortalModelForm):
    website = forms.URLField(
        label=_("Website"), required=False, max_length=200, assume_scheme="https"
    )
    uscc = forms.CharField(
        label=_("Unified social credit code (optional)"),
        max_length=30,
        required=False,
        help_text=_("18 characters, as on the business licence."),
    )
    privacy_consent = PrivacyConsentField(
        help_text=_(
            "We keep these details to verify your organisation and contact you about the "
            "co-signature. Only the organisation's name, type, province and website are shown, "
            "and only after we approve the application."
        )
    )

    class Meta:
        model = CoSignature
        fields = [
            "organisation",
            "organisation_en",
            "organisation_type",
            "uscc",
            "province",
            "website",
            "contact_name",
            "contact_title",
            "contact_email",
            "contact_phone",
            "statement",
        ]
        labels = {"organisation_en": _("English name (optional)")}
        help_texts = {
            "statement": _("Optional: what your organisation will do for the initiative."),
            "contact_email": _("Not shown publicly. We write here when we have decided."),
        }
        widgets = {"statement": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["province"].choices = PROVINCE_CHOICES

    def clean_uscc(self) -> str:
        return clean_uscc_value(self.cleaned_data.get("uscc", ""))

    def _post_clean(self):
        # The service builds the row; model validation of the unsaved instance would only
        # repeat the field checks above.
        pass
