from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ExportActionMixin, ImportExportModelAdmin

from cqa_portal.core.admin import (
    AuditHistoryInline,
    SpreadsheetExportMixin,
    SpreadsheetImportMixin,
    WaitingFirstMixin,
)

from . import services
from .exports import (
    AllianceMemberResource,
    ConfirmedSignatureResource,
    CoSignatureResource,
    SignatureResource,
)
from .models import (
    Alliance,
    AllianceMember,
    Commitment,
    CoSignature,
    Initiative,
    InitiativeItem,
    OpenLetter,
    Signature,
)
from .rendering import render_markdown


def _preview(text: str):
    # render_markdown returns HTML sanitised by nh3.
    html = mark_safe(render_markdown(text or ""))  # noqa: S308
    return format_html('<div class="pledges-preview" style="max-width:48rem">{}</div>', html)


class PublishingAdmin(admin.ModelAdmin):
    """Publishing or withdrawing a text is logged (who, when)."""

    inlines = [AuditHistoryInline]

    def save_model(self, request, obj, form, change):
        was_published = bool(form.initial.get("is_published")) if change else False
        services.publication_save(obj=obj, actor=request.user, was_published=was_published)


class CommitmentInline(admin.TabularInline):
    model = Commitment
    extra = 1
    fields = ["order", "text", "text_en"]


class InitiativeItemInline(admin.TabularInline):
    model = InitiativeItem
    extra = 1
    fields = ["order", "text", "text_en"]


@admin.register(OpenLetter)
class OpenLetterAdmin(PublishingAdmin):
    list_display = ["title", "date", "is_published", "published_at", "initiative"]
    list_filter = ["is_published"]
    search_fields = ["title", "title_en", "body"]
    prepopulated_fields = {"slug": ["title_en"]}
    list_select_related = ["initiative"]
    readonly_fields = ["body_preview", "body_en_preview"]
    inlines = [CommitmentInline, AuditHistoryInline]
    fieldsets = [
        (None, {"fields": ["title", "slug", "date", "addressees", "body", "body_preview"]}),
        (_("English version"), {"fields": ["title_en", "addressees_en", "body_en",
                                           "body_en_preview"]}),
        (_("Initiative and publication"), {"fields": ["initiative", "is_published",
                                                      "published_at"]}),
    ]  # fmt: skip

    @admin.display(description=_("body as shown"))
    def body_preview(self, obj):
        return _preview(obj.body)

    @admin.display(description=_("English body as shown"))
    def body_en_preview(self, obj):
        return _preview(obj.body_en)


@admin.register(Initiative)
class InitiativeAdmin(PublishingAdmin):
    list_display = ["title", "slug", "accepts_signatures", "is_published", "published_at"]
    list_filter = ["is_published", "accepts_signatures"]
    search_fields = ["title", "title_en"]
    prepopulated_fields = {"slug": ["title_en"]}
    inlines = [InitiativeItemInline, AuditHistoryInline]
    actions = ["recount"]
    fields = [
        "title", "slug", "intro", "title_en", "intro_en", "accepts_signatures", "is_published",
        "published_at",
    ]  # fmt: skip

    @admin.action(description=_("Recount the signatures of the selected initiatives"))
    def recount(self, request, queryset):
        total = sum(services.tally_rebuild(initiative_id=pk) for pk in queryset.values_list(
            "pk", flat=True))  # fmt: skip
        self.message_user(
            request,
            _("Counts rebuilt: %(total)d confirmed signatures.") % {"total": total},
            messages.SUCCESS,
        )


URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


class AllianceMemberInline(admin.TabularInline):
    model = AllianceMember
    extra = 0
    formfield_overrides = URL_FIELDS
    fields = ["order", "name", "name_en", "short_name", "website", "joined_on", "is_sample"]


@admin.register(Alliance)
class AllianceAdmin(PublishingAdmin):
    list_display = ["name", "founded_on", "is_published", "published_at"]
    prepopulated_fields = {"slug": ["name_en"]}
    readonly_fields = ["description_preview"]
    inlines = [AllianceMemberInline, AuditHistoryInline]
    fields = [
        "name", "slug", "founded_on", "description", "description_preview", "name_en",
        "description_en", "initiative", "is_published", "published_at",
    ]  # fmt: skip

    @admin.display(description=_("description as shown"))
    def description_preview(self, obj):
        return _preview(obj.description)


@admin.register(AllianceMember)
class AllianceMemberAdmin(SpreadsheetExportMixin, SpreadsheetImportMixin, ImportExportModelAdmin):
    """Member associations; import from CSV (UTF-8 or GBK) or XLSX (bad rows listed with their
    row numbers, nothing written) and export."""

    resource_classes = [AllianceMemberResource]
    formfield_overrides = URL_FIELDS
    list_display = ["name", "short_name", "alliance", "joined_on", "order", "is_sample"]
    list_filter = ["alliance", "is_sample"]
    list_editable = ["order"]
    search_fields = ["name", "name_en", "short_name"]
    list_select_related = ["alliance"]


@admin.register(Signature)
class SignatureAdmin(
    WaitingFirstMixin, SpreadsheetExportMixin, ExportActionMixin, admin.ModelAdmin
):
    """Signatures are written by signers only: staff read them, hide or show them (moderation)
    and erase them on request; every such change is logged. Confirmed, shown signatures whose
    credit code needs review wait for moderation and are listed first."""

    waiting = Signature.AWAITING_MODERATION

    resource_classes = [ConfirmedSignatureResource, SignatureResource]
    change_list_template = "admin/pledges/signature/change_list.html"
    list_display = [
        "created_at", "public_name", "kind", "status", "is_hidden", "province", "show_name",
        "uscc_needs_review", "initiative",
    ]  # fmt: skip
    list_filter = [
        "initiative", "kind", "status", "is_hidden", "province", "uscc_needs_review",
        "show_name", "created_at", "confirmed_at",
    ]  # fmt: skip
    date_hierarchy = "created_at"
    search_fields = ["name", "organisation", "email", "uscc"]
    list_select_related = ["initiative"]
    readonly_fields = [
        "initiative", "kind", "status", "is_hidden", "organisation", "uscc", "uscc_needs_review",
        "name", "title", "province", "email", "show_name", "company", "signed_by", "consent_at",
        "created_at", "confirmed_at", "withdrawn_at", "confirmation_sent_at",
        "confirmations_sent",
    ]  # fmt: skip
    fields = readonly_fields
    actions = ["hide", "show", "erase"]
    inlines = [AuditHistoryInline]

    @admin.display(description=_("name or organisation"), ordering="organisation")
    def public_name(self, obj):
        return obj.display_name or "—"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting would bypass the counters and the audit log: use "erase" instead.
        return False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and "cl" in (response.context_data or {}):
            queryset = response.context_data["cl"].queryset
            response.context_data["signature_totals"] = queryset.aggregate(
                confirmed=Count("pk", filter=Q(status=Signature.Status.CONFIRMED)),
                unconfirmed=Count("pk", filter=Q(status=Signature.Status.PENDING)),
                withdrawn=Count("pk", filter=Q(status=Signature.Status.WITHDRAWN)),
                hidden=Count("pk", filter=Q(is_hidden=True)),
            )
        return response

    def _done(self, request, message: str) -> None:
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("Hide the selected signatures (not shown, not counted)"))
    def hide(self, request, queryset):
        count = services.signatures_set_hidden(
            signature_ids=queryset.values_list("pk", flat=True), hidden=True, actor=request.user
        )
        self._done(
            request,
            ngettext("%(count)d signature hidden.", "%(count)d signatures hidden.", count)
            % {"count": count},
        )

    @admin.action(description=_("Show the selected hidden signatures again"))
    def show(self, request, queryset):
        count = services.signatures_set_hidden(
            signature_ids=queryset.values_list("pk", flat=True), hidden=False, actor=request.user
        )
        self._done(
            request,
            ngettext("%(count)d signature shown again.", "%(count)d signatures shown again.", count)
            % {"count": count},
        )

    @admin.action(description=_("Erase the selected signatures on their signers' request"))
    def erase(self, request, queryset):
        count = services.signatures_erase(
            signature_ids=queryset.values_list("pk", flat=True), actor=request.user
        )
        self._done(
            request,
            ngettext("%(count)d signature erased.", "%(count)d signatures erased.", count)
            % {"count": count},
        )


@admin.register(CoSignature)
class CoSignatureAdmin(
    WaitingFirstMixin, SpreadsheetExportMixin, ExportActionMixin, admin.ModelAdmin
):
    """Applications to co-sign the alliance initiative. Staff verify the organisation (credit
    code, website, a call to the contact), note how in the decision note, then approve.
    Applications awaiting review come first, oldest first."""

    waiting = Q(status=CoSignature.Status.PENDING)

    resource_classes = [CoSignatureResource]
    list_display = [
        "organisation", "organisation_type", "province", "status", "uscc_needs_review",
        "contact_name", "created_at", "decided_at",
    ]  # fmt: skip
    list_filter = ["status", "alliance", "organisation_type", "province", "uscc_needs_review"]
    search_fields = ["organisation", "organisation_en", "contact_name", "contact_email", "uscc"]
    date_hierarchy = "created_at"
    list_select_related = ["alliance"]
    readonly_fields = [
        "alliance", "organisation", "organisation_en", "organisation_type", "uscc",
        "uscc_needs_review", "province", "website", "contact_name", "contact_title",
        "contact_email", "contact_phone", "statement", "status", "decided_by", "decided_at",
        "consent_at", "created_at",
    ]  # fmt: skip
    fields = [*readonly_fields, "decision_note"]
    actions = ["approve", "reject"]
    inlines = [AuditHistoryInline]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Approve the selected applications (shown publicly)"))
    def approve(self, request, queryset):
        count = services.cosign_decide(
            cosignature_ids=queryset.values_list("pk", flat=True), approve=True, actor=request.user
        )
        self.message_user(
            request,
            ngettext("%(count)d application approved.", "%(count)d applications approved.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Reject the selected applications (or withdraw the approval)"))
    def reject(self, request, queryset):
        count = services.cosign_decide(
            cosignature_ids=queryset.values_list("pk", flat=True), approve=False, actor=request.user
        )
        self.message_user(
            request,
            ngettext("%(count)d application rejected.", "%(count)d applications rejected.", count)
            % {"count": count},
            messages.SUCCESS,
        )
