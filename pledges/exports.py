"""The signature exports and the alliance-member import (django-import-export resources).

The files themselves are written by the portal's one export layer (cqa_portal.core.exports,
through core.admin.SpreadsheetExportMixin): formulas neutralised, typed cells, translated
headers, labels instead of codes.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets

from cqa_portal.core import exports
from cqa_portal.core.exports import ChoiceLabel
from cqa_portal.core.reference import Province

from .models import Alliance, AllianceMember, CoSignature, Signature


def _field(attribute: str, label, widget=None) -> fields.Field:
    return fields.Field(attribute=attribute, column_name=label, widget=widget, readonly=True)


class SignatureResource(resources.ModelResource):
    """Every signature in the chosen list (respects the admin's filters). Never exports the link
    key or the IP hash."""

    id = _field("id", "ID")
    initiative = _field("initiative__title", _("initiative"))
    kind = _field("kind", _("signing as"), ChoiceLabel(Signature.Kind.choices))
    status = _field("status", _("status"), ChoiceLabel(Signature.Status.choices))
    is_hidden = _field("is_hidden", _("hidden by staff"), widgets.BooleanWidget())
    organisation = _field("organisation", _("organisation"))
    uscc = _field("uscc", _("unified social credit code"))
    uscc_needs_review = _field(
        "uscc_needs_review", _("credit code needs review"), widgets.BooleanWidget()
    )
    name = _field("name", _("signer's name"))
    title = _field("title", _("signer's title"))
    province = _field("province", _("province"), ChoiceLabel(Province.choices))
    email = _field("email", _("email"))
    show_name = _field("show_name", _("name shown publicly"), widgets.BooleanWidget())
    company = _field("company__name", _("member company"))
    created_at = _field("created_at", _("signed at"), widgets.DateTimeWidget("%Y-%m-%d %H:%M"))
    confirmed_at = _field(
        "confirmed_at", _("confirmed at"), widgets.DateTimeWidget("%Y-%m-%d %H:%M")
    )
    withdrawn_at = _field(
        "withdrawn_at", _("withdrawn at"), widgets.DateTimeWidget("%Y-%m-%d %H:%M")
    )

    class Meta:
        model = Signature
        name = _("All signatures")
        fields = [
            "id", "initiative", "kind", "status", "is_hidden", "organisation", "uscc",
            "uscc_needs_review", "name", "title", "province", "email", "show_name", "company",
            "created_at", "confirmed_at", "withdrawn_at",
        ]  # fmt: skip
        export_order = fields

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("initiative", "company")


class ConfirmedSignatureResource(SignatureResource):
    """Only confirmed signatures that staff have not hidden: what the public counts include."""

    class Meta(SignatureResource.Meta):
        name = _("Confirmed signatures only")

    def filter_export(self, queryset, **kwargs):
        return (
            super()
            .filter_export(queryset, **kwargs)
            .filter(status=Signature.Status.CONFIRMED, is_hidden=False)
        )


class CoSignatureResource(resources.ModelResource):
    """Every co-signature application in the chosen list (respects the admin's filters); never
    the IP hash. Headers are the fields' names, choices their labels."""

    alliance = _field("alliance__name", _("alliance"))
    decided_by = _field("decided_by__email", _("decided by"))

    class Meta:
        model = CoSignature
        name = _("All co-signature applications")
        fields = [
            "id", "alliance", "organisation", "organisation_en", "organisation_type", "uscc",
            "uscc_needs_review", "province", "website", "contact_name", "contact_title",
            "contact_email", "contact_phone", "statement", "status", "decision_note",
            "decided_by", "decided_at", "created_at",
        ]  # fmt: skip
        export_order = fields

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("alliance", "decided_by")


class AllianceWidget(widgets.ForeignKeyWidget):
    """The alliance by its address name; left empty when there is only one alliance."""

    def __init__(self):
        super().__init__(Alliance, field="slug")

    def clean(self, value, row=None, **kwargs):
        value = (str(value).strip() if value is not None else "") or None
        if value is None:
            alliances = list(Alliance.objects.all()[:2])
            if len(alliances) == 1:
                return alliances[0]
            raise ValueError(gettext("Give the alliance's address name (slug)."))
        alliance = Alliance.objects.filter(slug=value).first()
        if alliance is None:
            raise ValueError(
                gettext("No alliance has the address name “%(slug)s”.") % {"slug": value}
            )
        return alliance


class _DateCell(widgets.DateWidget):
    """A date as 2020-03-13 (or a spreadsheet date); anything else is refused in the reader's
    language (the library's own message is English only)."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, str):
            value = value.strip()
        try:
            return super().clean(value, row, **kwargs)
        except (ValueError, TypeError):
            raise ValueError(
                gettext("Enter the date as YYYY-MM-DD, for example 2020-03-13.")
            ) from None


class _WholeNumberCell(widgets.IntegerWidget):
    """A whole number; text, NaN, infinity or a number too long to read is refused with a
    message instead of a decimal-module error."""

    def clean(self, value, row=None, **kwargs):
        try:
            return super().clean(value, row, **kwargs)
        except (ValueError, TypeError, ArithmeticError):
            raise ValueError(forms.IntegerField.default_error_messages["invalid"]) from None


class AllianceMemberResource(resources.ModelResource):
    """Import and export of member associations. A row matches an existing member by alliance
    and name; any bad row stops the whole import (the admin shows each with its row number and
    writes nothing)."""

    alliance = fields.Field(attribute="alliance", column_name="alliance", widget=AllianceWidget())
    joined_on = fields.Field(
        attribute="joined_on", column_name="joined_on", widget=_DateCell("%Y-%m-%d")
    )
    order = fields.Field(attribute="order", column_name="order", widget=_WholeNumberCell())

    class Meta:
        model = AllianceMember
        fields = [
            "alliance", "name", "name_en", "short_name", "website", "joined_on", "order",
            "is_sample",
        ]  # fmt: skip
        export_order = fields
        import_id_fields = ["alliance", "name"]
        clean_model_instances = True
        skip_unchanged = True
        use_transactions = True

    REQUIRED_COLUMNS = ("alliance", "name", "joined_on")
    # The alliance has a few dozen members; a file far larger is a mistake, and checking it
    # row by row would outlast the request.
    MAX_ROWS = 1000

    def before_import(self, dataset, **kwargs):
        exports.accept_export_headers(self, dataset)
        headers = [str(h).strip() if h is not None else "" for h in (dataset.headers or [])]
        missing = [c for c in self.REQUIRED_COLUMNS if c not in headers]
        problem = ""
        if missing:
            problem = gettext("The file is missing the required columns: %(columns)s.") % {
                "columns": ", ".join(missing)
            }
        elif len(dataset) > self.MAX_ROWS:
            problem = gettext(
                "The file has %(count)d rows; import at most %(limit)d rows at a time."
            ) % {"count": len(dataset), "limit": self.MAX_ROWS}
        if problem:
            del dataset[0 : len(dataset)]  # one clear message, not one per row
            raise ValueError(problem)
        dataset.headers = headers

    def before_import_row(self, row, **kwargs):
        # NUL cannot be stored (PostgreSQL refuses it, even in a lookup): say so for the row.
        bad = [key for key, value in row.items() if isinstance(value, str) and "\x00" in value]
        if bad:
            raise ValidationError(
                {key: ProhibitNullCharactersValidator.message for key in bad if key}
                or ProhibitNullCharactersValidator.message
            )

    def get_instance(self, instance_loader, row):
        # An unknown alliance is reported with the row's other errors by import_instance.
        try:
            return super().get_instance(instance_loader, row)
        except (ValueError, ValidationError):
            return None

    def dehydrate_alliance(self, member):
        return member.alliance.slug

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("alliance")
