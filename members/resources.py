"""Import and export of companies and fees, and the fee-relief export (django-import-export).

Exports are written by the portal's one export layer (cqa_portal.core.exports, through
core.admin.SpreadsheetExportMixin): headers are the fields' verbose names, choices their labels.
Imports go through the same validation as the forms (model validators, the credit-code check),
report every bad row with its number and reason, and write nothing unless every row is good.
Companies import in bulk: existing codes and levels are loaded once, not per row.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import fields, resources, widgets

from cqa_portal.core import exports
from cqa_portal.core.reference import (
    INDUSTRY_NAMES_ZH,
    PROVINCE_NAMES_ZH,
    IndustrySection,
    Province,
)
from cqa_portal.core.validators import normalize_uscc

from . import services
from .models import MemberCompany, MembershipFee, MembershipLevel, ReliefReason, ReliefRequest


class ChoiceWidget(widgets.Widget):
    """Accepts a choice's code, its label (either language) or an extra alias; exports the code."""

    def __init__(self, choices, aliases: dict[str, str] | None = None, what: str = "", **kwargs):
        super().__init__(**kwargs)
        self.choices = choices
        self.aliases = aliases or {}
        self.what = what
        self._lookup: dict[str, str] | None = None

    @property
    def lookup(self) -> dict[str, str]:
        if self._lookup is None:
            lookup: dict[str, str] = {}
            for language in ("en", "zh-hans"):
                with translation.override(language):
                    for value, label in self.choices:
                        lookup[str(value).strip().lower()] = value
                        lookup[str(label).strip().lower()] = value
            for value, alias in self.aliases.items():
                lookup[alias.strip().lower()] = value
            self._lookup = lookup
        return self._lookup

    def clean(self, value, row=None, **kwargs):
        text = "" if value is None else str(value).strip()
        if text.endswith(".0") and text[:-2].isdigit():  # spreadsheets turn "42" into 42.0
            text = text[:-2]
        if not text:
            return ""
        found = self.lookup.get(text.lower())
        if found is None:
            raise ValueError(
                _("Unknown %(what)s “%(value)s”.") % {"what": self.what, "value": text}
            )
        return found

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else str(value)


class LevelWidget(widgets.Widget):
    """A membership level by code or name, resolved from one query per import."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._levels: dict[str, MembershipLevel] | None = None

    def _load(self) -> dict[str, MembershipLevel]:
        if self._levels is None:
            self._levels = {}
            for level in MembershipLevel.objects.all():
                for key in (level.code, level.name, level.name_en):
                    if key:
                        self._levels[key.strip().lower()] = level
        return self._levels

    def clean(self, value, row=None, **kwargs):
        text = "" if value is None else str(value).strip()
        level = self._load().get(text.lower())
        if level is None:
            raise ValueError(_("Unknown membership level “%(value)s”.") % {"value": text})
        return level

    def render(self, value, obj=None, **kwargs):
        return value.code if value else ""


class CompanyResource(resources.ModelResource):
    province = fields.Field(
        attribute="province",
        column_name="province",
        widget=ChoiceWidget(Province.choices, PROVINCE_NAMES_ZH, what=_("province")),
    )
    industry_section = fields.Field(
        attribute="industry_section",
        column_name="industry_section",
        widget=ChoiceWidget(IndustrySection.choices, INDUSTRY_NAMES_ZH, what=_("industry section")),
    )
    size_band = fields.Field(
        attribute="size_band",
        column_name="size_band",
        widget=ChoiceWidget(MemberCompany.SizeBand.choices, what=_("size")),
    )
    status = fields.Field(
        attribute="status",
        column_name="status",
        widget=ChoiceWidget(MemberCompany.Status.choices, what=_("status")),
    )
    level = fields.Field(attribute="level", column_name="level", widget=LevelWidget())

    REQUIRED_COLUMNS = ("name", "uscc", "province", "industry_section", "size_band", "level")

    class Meta:
        model = MemberCompany
        fields = (
            "name",
            "name_en",
            "uscc",
            "province",
            "industry_section",
            "industry_division",
            "size_band",
            "level",
            "member_since",
            "status",
            "address",
            "postal_code",
            "contact_name",
            "contact_phone",
            "contact_email",
            "uscc_needs_review",
        )
        export_order = fields
        import_id_fields = ("uscc",)
        skip_unchanged = False
        use_bulk = True
        batch_size = 1000
        skip_diff = True
        skip_html_diff = True
        clean_model_instances = True
        use_transactions = True

    def get_import_fields(self):
        # Called for every row: use the list worked out once per file in before_import.
        cached = getattr(self, "_import_fields", None)
        if cached is not None:
            return cached
        return [f for f in super().get_import_fields() if f.attribute != "uscc_needs_review"]

    def before_import(self, dataset, **kwargs):
        exports.accept_export_headers(self, dataset)
        self._seen: dict[str, int] = {}
        self._existing: dict[str, MemberCompany] = {}
        headers = [h.strip() if isinstance(h, str) else h for h in (dataset.headers or [])]
        missing = [c for c in self.REQUIRED_COLUMNS if c not in headers]
        if missing:
            del dataset[0 : len(dataset)]  # one clear message, not one per row
            raise ValueError(
                _("The file is missing the required columns: %(columns)s.")
                % {"columns": ", ".join(missing)}
            )
        dataset.headers = headers
        self._import_fields = None
        self._import_fields = [f for f in self.get_import_fields() if f.column_name in headers]
        imported = {f.attribute for f in self._import_fields}
        # Model fields the file does not set keep their (valid) current or default values.
        self._not_in_file = [
            f.name for f in MemberCompany._meta.concrete_fields if f.name not in imported
        ]
        codes = {normalize_uscc(str(c)) for c in dataset["uscc"] if c}
        self._existing = {c.uscc: c for c in MemberCompany.objects.filter(uscc__in=codes)}
        # Status before the import, by code (the instances above are changed row by row), and
        # every saved company, for the audit entries written in bulk after the last batch.
        self._old_status = {code: c.status for code, c in self._existing.items()}
        self._saved: list[tuple[MemberCompany, str | None]] = []
        self._actor = kwargs.get("user")

    def get_instance(self, instance_loader, row):
        return self._existing.get(normalize_uscc(str(row.get("uscc") or "")))

    def before_import_row(self, row, **kwargs):
        code = normalize_uscc(str(row.get("uscc") or ""))
        row["uscc"] = code
        number = kwargs.get("row_number")
        if code in self._seen:
            raise ValidationError(
                {
                    "uscc": _("Duplicate credit code: also on row %(row)d.")
                    % {"row": self._seen[code] + 1}  # as the spreadsheet numbers it
                }
            )
        if code:
            self._seen[code] = number

    def after_init_instance(self, instance, new, row, **kwargs):
        if new:
            instance.status = MemberCompany.Status.ACTIVE  # unless the file says otherwise

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """The model's own validation (as in the forms), minus two per-row queries: the code's
        uniqueness is settled in bulk above (existing codes update their company), and the level
        is already a row loaded by LevelWidget."""
        errors = dict(import_validation_errors or {})
        try:
            instance.full_clean(
                exclude=[*errors, *self._not_in_file, "level"], validate_unique=False
            )
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def before_save_instance(self, instance, row, **kwargs):
        old_status = self._old_status.get(instance.uscc) if instance.pk else None
        services.company_import_prepare(instance, old_status=old_status)
        self._saved.append((instance, old_status))

    def after_import(self, dataset, result, **kwargs):
        """Every company is saved by now (bulk inserts give them their ids): log them all."""
        super().after_import(dataset, result, **kwargs)
        if result.has_errors() or result.has_validation_errors():
            return  # rolled back: nothing was imported
        services.companies_import_record(companies=self._saved, actor=self._actor)


class CompanyByCodeWidget(widgets.ForeignKeyWidget):
    def __init__(self, **kwargs):
        super().__init__(MemberCompany, field="uscc", **kwargs)

    def clean(self, value, row=None, **kwargs):
        code = normalize_uscc(str(value or ""))
        try:
            return super().clean(code, row, **kwargs)
        except MemberCompany.DoesNotExist:
            raise ValueError(
                _("No member company has the credit code “%(code)s”.") % {"code": code}
            ) from None


class FeeResource(resources.ModelResource):
    company = fields.Field(attribute="company", column_name="uscc", widget=CompanyByCodeWidget())
    company_name = fields.Field(attribute="company__name", column_name="company", readonly=True)

    export_headers = {
        "company": gettext_lazy("unified social credit code"),
        "company_name": gettext_lazy("company"),
    }

    class Meta:
        model = MembershipFee
        name = gettext_lazy("Membership fees")
        fields = (
            "company",
            "company_name",
            "year",
            "amount_due",
            "relief_amount",
            "amount_paid",
            "due_date",
            "status",
        )
        export_order = fields
        import_id_fields = ("company", "year")
        clean_model_instances = True
        use_transactions = True
        skip_html_diff = True

    def get_import_fields(self):
        return [f for f in super().get_import_fields() if f.attribute != "status"]

    def before_import(self, dataset, **kwargs):
        exports.accept_export_headers(self, dataset)
        self._actor = kwargs.get("user")

    def after_init_instance(self, instance, new, row, **kwargs):
        # What is already recorded as paid: the file's column is the new total.
        instance._recorded_paid = instance.amount_paid if not new else services.ZERO

    def save_instance(self, instance, is_create, row, **kwargs):
        """Through the fee service: amounts and status logged, a higher total paid recorded as
        a payment (with its own entry), never written straight into the fee."""
        services.fee_save(
            fee=instance,
            actor=self._actor,
            reason=_("Spreadsheet import"),
            amount_paid=instance.amount_paid or services.ZERO,
        )

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        if instance.relief_amount is not None and instance.amount_due is not None:
            if instance.relief_amount > instance.amount_due:
                errors.setdefault("relief_amount", []).append(
                    _("The relief cannot exceed the amount due.")
                )
            elif (instance.amount_paid or 0) > instance.amount_due - instance.relief_amount:
                errors.setdefault("amount_paid", []).append(
                    _("The amount paid cannot exceed the amount payable.")
                )
        recorded = getattr(instance, "_recorded_paid", services.ZERO)
        if instance.amount_paid is not None and instance.amount_paid < recorded:
            errors.setdefault("amount_paid", []).append(
                _(
                    "%(recorded)s CNY have already been recorded as paid; a file cannot lower "
                    "that. Correct a payment in the administration."
                )
                % {"recorded": recorded}
            )
        super().validate_instance(instance, errors, validate_unique=False)


class ReliefRequestResource(resources.ModelResource):
    """Export only: the fee-relief requests with the company's name and code, reasons, kind and
    status as their labels."""

    company = fields.Field(attribute="company__name", column_name=gettext_lazy("company"))
    uscc = fields.Field(
        attribute="company__uscc", column_name=gettext_lazy("unified social credit code")
    )
    province = fields.Field(attribute="company__province", column_name=gettext_lazy("province"))
    reasons = fields.Field(
        attribute="reasons",
        column_name=gettext_lazy("reasons"),
        widget=widgets.ManyToManyWidget(ReliefReason),
    )
    decided_by = fields.Field(attribute="decided_by__email", column_name=gettext_lazy("decided by"))
    created_by = fields.Field(attribute="created_by__email", column_name=gettext_lazy("filed by"))

    class Meta:
        model = ReliefRequest
        name = gettext_lazy("Fee-relief requests")
        fields = export_order = (
            "id",
            "company",
            "uscc",
            "province",
            "year",
            "kind",
            "requested_amount",
            "deferral_until",
            "reasons",
            "explanation",
            "status",
            "granted_amount",
            "decision_note",
            "decided_by",
            "decided_at",
            "created_by",
            "submitted_at",
        )

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("company", "decided_by", "created_by").prefetch_related(
            "reasons"
        )


def import_report(result) -> list[str]:
    """Every problem of an import result as 'row N: field: message' lines, rows numbered as in
    the spreadsheet (the header is row 1, the first data row 2)."""
    lines: list[str] = []
    for error in result.base_errors:
        lines.append(str(error.error))
    for row_number, errors in result.row_errors():
        for error in errors:
            lines.append(
                _("Row %(row)d: %(error)s") % {"row": row_number + 1, "error": error.error}
            )
    for invalid in result.invalid_rows:
        for field, messages in invalid.error_dict.items():
            for message in messages:
                label = "" if field == "__all__" else f"{field}: "
                lines.append(
                    _("Row %(row)d: %(error)s")
                    % {"row": invalid.number + 1, "error": f"{label}{message}"}
                )
    return lines
