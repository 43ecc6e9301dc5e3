from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop, ngettext
from import_export.formats import base_formats
from import_export.signals import post_export

from . import exports, pagecache, services
from .models import AuditEntry, OutboxMessage, User
from .spreadsheets import check_workbook, decode_csv

# Messages django-import-export shows to staff that its own Chinese catalogue leaves
# untranslated; the portal's catalogue (locale/) supplies them.
IMPORT_EXPORT_MESSAGES = [
    gettext_noop(
        "No valid data to import. Ensure your file has the correct headers or data for import."
    ),
    gettext_noop("export failed due to IllegalCharacterError"),
    gettext_noop("Resource"),
    gettext_noop('Select at least 1 field for "%(resource_name)s" to export'),
    gettext_noop(
        "The following fields are declared in 'import_id_fields' but are not present in the "
        "file headers: %s"
    ),
    gettext_noop("Export %(len)s selected item."),
    gettext_noop("Select all"),
    gettext_noop("Value could not be parsed."),
]


class SpreadsheetExportMixin:
    """For import-export admins (put it before ExportMixin / ExportActionMixin /
    ImportExportModelAdmin): the admin's export page and "export selected" action stay as they
    are, but the file is written by the portal's one export layer (cqa_portal.core.exports):
    formulas neutralised, typed cells, translated headers and sheet name, labels instead of codes,
    CSV with a byte-order mark and charset, a safe (Chinese) file name, constant memory."""

    export_formats = [base_formats.CSV, base_formats.XLSX]

    def get_export_filename(self, request, queryset, file_format):
        name = exports.dated_filename(self.model._meta.verbose_name_plural)
        return exports.safe_filename(name, file_format.get_extension())

    def get_export_data(self, file_format, request, queryset, **kwargs):
        """Bytes of the export (the admin's own view streams it; kept for callers of the
        library's API)."""
        sheet = self._export_sheet(request, queryset, kwargs.get("export_form"))
        if file_format.get_extension() == "csv":
            return exports.csv_bytes(sheet)
        return exports.xlsx_bytes([sheet])

    def _export_sheet(self, request, queryset, export_form):
        if not self.has_export_permission(request):
            raise PermissionDenied
        resource_class = self.choose_export_resource_class(export_form, request)
        resource = resource_class(**self.get_export_resource_kwargs(request))
        return exports.resource_sheet(
            resource,
            queryset,
            selected_fields=self.get_export_resource_fields_from_form(export_form),
        )

    def _do_file_export(self, file_format, request, queryset, export_form=None):
        sheet = self._export_sheet(request, queryset, export_form)
        name = exports.dated_filename(self.model._meta.verbose_name_plural)
        response = exports.export_response(file_format.get_extension(), [sheet], filename=name)
        post_export.send(sender=None, model=self.model)
        return response


class SpreadsheetImportMixin:
    """For import-export admins: CSV files saved by Chinese Excel are often GBK (GB 18030), not
    UTF-8; accept both, and say in the user's language when a file cannot be read. Errors
    are listed by row, without tracebacks."""

    import_template_name = "admin/portal_import.html"
    # What the import page offers, as README says: CSV (UTF-8 or GBK) and XLSX.
    import_formats = [base_formats.CSV, base_formats.XLSX]
    max_import_bytes = 20 * 1024 * 1024

    def _back_to_import(self, request, message):
        self.message_user(request, message, messages.ERROR)
        opts = self.model._meta
        return redirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_import"))

    def import_action(self, request, **kwargs):
        upload = request.FILES.get("import_file")
        if upload is not None and upload.size > self.max_import_bytes:
            return self._back_to_import(
                request,
                _("The file is larger than %(size)d MB; split it into smaller files.")
                % {"size": self.max_import_bytes // (1024 * 1024)},
            )
        if upload is not None:
            try:
                check_workbook(upload)
            except ValidationError as exc:
                return self._back_to_import(request, " ".join(exc.messages))
        return super().import_action(request, **kwargs)

    def process_import(self, request, **kwargs):
        """A confirmation sent twice (double click, back button) or altered finds no uploaded
        file, or names a format that does not exist: say so instead of failing. Nothing has
        been imported then (the file is read before the import's transaction starts)."""
        try:
            return super().process_import(request, **kwargs)
        except (OSError, ValueError, IndexError, KeyError):
            return self._back_to_import(
                request,
                _(
                    "This import was already confirmed or has expired, so nothing was "
                    "imported. Upload the file again."
                ),
            )

    def write_to_tmp_storage(self, import_file, input_format):
        if not input_format.is_binary():
            data = b"".join(import_file.chunks())
            try:
                text = decode_csv(data)
            except UnicodeDecodeError:
                pass  # the reader says the file could not be read
            else:
                import_file = ContentFile(text.encode("utf-8"), name=import_file.name)
        return super().write_to_tmp_storage(import_file, input_format)

    def add_data_read_fail_error_to_form(self, form, e):
        form.add_error(
            "import_file",
            _(
                "The file could not be read. Check that it is a CSV file (UTF-8 or GBK) or an "
                "XLSX workbook with a header row, and that you chose the matching format."
            ),
        )


class PageCacheAdminMixin:
    """Admin edits of a model public pages show: every save, delete and import bumps the page
    cache namespace ``pagecache_namespace`` (see ``core.pagecache``)."""

    pagecache_namespace = ""

    def _bump(self):
        pagecache.bump(self.pagecache_namespace)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._bump()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        self._bump()  # inlines

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        self._bump()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        self._bump()

    def process_result(self, result, request):  # django-import-export, after an import
        response = super().process_result(result, request)
        self._bump()
        return response


class AuditHistoryInline(GenericTabularInline):
    """Read-only history of an object (who, when, from, to, why) on its admin page."""

    model = AuditEntry
    ct_field = "content_type"
    ct_fk_field = "object_id"
    extra = 0
    can_delete = False
    ordering = ["-created_at", "-id"]
    fields = ["created_at", "actor", "action", "from_state", "to_state", "detail"]
    readonly_fields = fields
    verbose_name = _("history entry")
    verbose_name_plural = _("history")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["email", "first_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "first_name", "last_name", "username"]
    ordering = ["-date_joined"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Privacy"), {"fields": ["privacy_consent_at"]}),
    )
    inlines = [AuditHistoryInline]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "purpose", "to", "subject", "status", "attempts", "sent_at"]
    list_filter = ["status", "purpose", "created_at"]
    search_fields = ["to", "subject", "key"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    actions = ["retry_failed"]
    inlines = [AuditHistoryInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Retry the selected failed mails"), permissions=["view"])
    def retry_failed(self, request, queryset):
        count = services.outbox_retry(
            message_ids=queryset.values_list("pk", flat=True), actor=request.user
        )
        self.message_user(
            request,
            ngettext("%(count)d mail queued again.", "%(count)d mails queued again.", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "action", "object_repr", "from_state", "to_state"]
    list_filter = ["action", "content_type", "created_at"]
    search_fields = ["object_repr", "detail", "actor__email"]
    date_hierarchy = "created_at"
    list_select_related = ["actor", "content_type"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
