from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cqa_portal.core.forms import (
    BoundedModelChoiceField,
    BoundedModelMultipleChoiceField,
    EmailField,
    PortalForm,
    PortalModelForm,
    PrivacyConsentField,
)
from cqa_portal.core.validators import normalize_uscc, validate_uscc_format

from .models import MemberCompany, MembershipFee, ReliefReason, ReliefRequest
from .uploads import check_upload

COMPANY_FIELDS = [
    "name",
    "name_en",
    "uscc",
    "province",
    "industry_section",
    "industry_division",
    "size_band",
    "level",
    "address",
    "postal_code",
    "contact_name",
    "contact_phone",
    "contact_email",
]


class CompanyFieldsMixin:
    def clean_postal_code(self):
        code = self.cleaned_data.get("postal_code", "").strip()
        if code and not (len(code) == 6 and code.isdigit()):
            raise ValidationError(_("A postal code has 6 digits."))
        return code


class MembershipApplicationForm(CompanyFieldsMixin, PortalModelForm):
    message = forms.CharField(
        label=_("Message to the association"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )
    privacy_consent = PrivacyConsentField()

    class Meta:
        model = MemberCompany
        fields = COMPANY_FIELDS
        field_classes = {"level": BoundedModelChoiceField}

    def clean_uscc(self):
        code = normalize_uscc(self.cleaned_data.get("uscc", ""))
        validate_uscc_format(code)
        return code

    def validate_unique(self):
        # A code already on file is handled by the service (a rejected applicant may re-apply).
        pass


class CompanyProfileForm(CompanyFieldsMixin, PortalModelForm):
    """What a company administrator may edit: everything except code, status and level."""

    class Meta:
        model = MemberCompany
        fields = [
            "name",
            "name_en",
            "province",
            "industry_section",
            "industry_division",
            "size_band",
            "address",
            "postal_code",
            "contact_name",
            "contact_phone",
            "contact_email",
        ]


class InvitationForm(PortalForm):
    email = EmailField(label=_("Colleague's email address"))


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class ReliefRequestForm(PortalModelForm):
    year = forms.TypedChoiceField(label=_("Fee year"), coerce=int)
    reasons = BoundedModelMultipleChoiceField(
        label=_("Reasons"),
        queryset=ReliefReason.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("How the epidemic affected your company. Required to submit."),
    )
    documents = MultipleFileField(
        label=_("Supporting documents"),
        required=False,
        help_text=_("PDF, JPG or PNG, at most 5 MB each. You can select several files."),
    )

    class Meta:
        model = ReliefRequest
        fields = ["year", "kind", "requested_amount", "deferral_until", "reasons", "explanation"]
        widgets = {
            "deferral_until": forms.DateInput(attrs={"type": "date"}),
            "explanation": forms.Textarea(attrs={"rows": 5}),
            "kind": forms.RadioSelect,
        }
        help_texts = {
            "requested_amount": _("Only for a reduction: the amount you ask to be relieved of."),
            "deferral_until": _("Only for a deferral: the date by which you can pay."),
        }

    def __init__(self, *args, company: MemberCompany, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.company = company
        years = (
            MembershipFee.objects.filter(company=company)
            .exclude(status__in=[MembershipFee.Status.PAID, MembershipFee.Status.WAIVED])
            .order_by("-year")
            .values_list("year", flat=True)
        )
        self.fields["year"].choices = [(y, str(y)) for y in years]
        self.fields["kind"].choices = ReliefRequest.Kind.choices
        self.fields["explanation"].max_length = 5000
        if self.instance.pk:
            self.initial.setdefault("reasons", list(self.instance.reasons.all()))

    def clean_documents(self):
        files = self.cleaned_data.get("documents") or []
        if len(files) > 10:
            raise ValidationError(_("Upload at most 10 documents at a time."))
        for upload in files:
            check_upload(upload)
        return files


class FeesGenerateForm(PortalForm):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    due_date = forms.DateField(label=_("Due date"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["year"].initial = today.year
        self.fields["due_date"].initial = today.replace(month=3, day=31)


class FeePaymentForm(PortalForm):
    amount = forms.DecimalField(label=_("Amount (CNY)"), max_digits=10, decimal_places=2)
    paid_on = forms.DateField(label=_("Paid on"), widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(label=_("Bank reference"), max_length=100, required=False)


class ReliefDecisionForm(PortalForm):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            (ReliefRequest.Status.APPROVED, _("Approve")),
            (ReliefRequest.Status.PARTLY_APPROVED, _("Partly approve")),
            (ReliefRequest.Status.REJECTED, _("Reject")),
        ],
        widget=forms.RadioSelect,
    )
    granted_amount = forms.DecimalField(
        label=_("Relief granted (CNY)"),
        required=False,
        max_digits=10,
        decimal_places=2,
        help_text=_("Only for a partial approval."),
    )
    note = forms.CharField(
        label=_("Decision note"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Sent to the company with the decision."),
    )


class ApplicationDecisionForm(PortalForm):
    approve = forms.TypedChoiceField(
        label=_("Decision"),
        choices=[("1", _("Approve")), ("0", _("Reject"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Note to the applicant"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required for a rejection."),
    )
