from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db.models import Case, F, IntegerField, Value, When
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop, ngettext
from import_export.formats import base_formats
from import_export.signals import post_export

from . import exports, history, imports, jobs, services
from .models import AuditEntry, OutboxMessage, StaffNotice, StaffNotificationSetting, User
from .spreadsheets import check_workbook

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


def message_job_started(model_admin, request, job) -> None:
    """Tell staff that their work runs in the background, with the link to its page."""
    from django.utils.html import format_html

    model_admin.message_user(
        request,
        format_html(
            '{} <a href="{}">{}</a>',
            _("%(job)s: started in the background.") % {"job": job.title},
            jobs.job_url(job),
            _("See its progress"),
        ),
        messages.INFO,
    )


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
        if not self.has_export_permission(request):
            raise PermissionDenied
        if queryset.count() >= settings.EXPORT_JOB_MIN_ROWS:
            return self._export_job(file_format, request, queryset, export_form)
        sheet = self._export_sheet(request, queryset, export_form)
        name = exports.dated_filename(self.model._meta.verbose_name_plural)
        response = exports.export_response(file_format.get_extension(), [sheet], filename=name)
        post_export.send(sender=None, model=self.model)
        return response

    def _export_job(self, file_format, request, queryset, export_form):
        """A large export runs in the background (``core.admin_export``): the rows chosen
        now (filters or selection, in the list's order) are exported by the worker."""
        fields = self.get_export_resource_fields_from_form(export_form)
        job = jobs.job_start(
            kind="core.admin_export",
            owner=request.user,
            title=_("Export of %(list)s") % {"list": self.model._meta.verbose_name_plural},
            params={
                "model": self.model._meta.label,
                "resource": self.get_resource_index(export_form) if export_form else 0,
                "fields": list(fields) if fields else None,
                "fmt": file_format.get_extension(),
                "pks": list(queryset.values_list("pk", flat=True)),
            },
        )
        return redirect(jobs.job_url(job))


class SpreadsheetImportMixin:
    """For import-export admins: the upload is checked and imported by background jobs
    (``core/imports.py``), so a large file never holds a request. The import page takes the
    file and sends staff to the job's page, which shows the progress, then the bad rows in a
    table (row as the spreadsheet numbers it, column, value, reason) with a download to correct
    and upload again, or a button to confirm the import. CSV files may be UTF-8 or GBK
    (GB 18030); a file that cannot be read gets a message in the user's language."""

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
        if request.method == "POST" and upload is not None:
            if not self.has_import_permission(request):
                raise PermissionDenied
            form = self.create_import_form(request)
            if form.is_valid():
                job = jobs.job_start(
                    kind=imports.CHECK_KIND,
                    owner=request.user,
                    title=_("Check %(file)s for import into %(list)s")
                    % {"file": upload.name, "list": self.model._meta.verbose_name_plural},
                    params={
                        "model": self.model._meta.label,
                        "format": int(form.cleaned_data["format"]),
                        "resource": self.get_resource_index(form),
                    },
                    upload=form.cleaned_data["import_file"],
                )
                return redirect(jobs.job_url(job))
        return super().import_action(request, **kwargs)

    def process_import(self, request, **kwargs):
        """Imports are confirmed on their job's page; the library's confirmation address is
        left for old or altered forms, which get a message and import nothing."""
        return self._back_to_import(
            request,
            _(
                "This import was already confirmed or has expired, so nothing was "
                "imported. Upload the file again."
            ),
        )

    def import_done_message(self, result) -> str:
        """What the confirmed import did, for its job page."""
        totals = result.totals
        return _("Imported: %(new)d new, %(update)d updated, %(skip)d unchanged rows.") % {
            "new": totals.get("new", 0),
            "update": totals.get("update", 0),
            "skip": totals.get("skip", 0),
        }


class WaitingFirstMixin:
    """A queue that lists what waits first (oldest first), then the rest (newest first).

    The change list orders by ``get_ordering`` (the admin's, else the model's Meta ordering)
    before anything the queryset says, so the order is given here, as expressions; a column
    the user sorts by still replaces it."""

    waiting = None  # a Q() of the rows that wait for staff
    waiting_since = "created_at"

    def get_ordering(self, request):
        waits = Case(
            When(self.waiting, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
        since = F(self.waiting_since)
        return [
            waits.asc(),
            Case(When(self.waiting, then=since), default=None).asc(nulls_last=True),
            since.desc(nulls_last=True),
            "-pk",
        ]


class AuditHistoryInline(GenericTabularInline):
    """Read-only history of an object (who, when, from, to, why) on its admin page."""

    model = AuditEntry
    ct_field = "content_type"
    ct_fk_field = "object_id"
    extra = 0
    can_delete = False
    ordering = ["-created_at", "-id"]
    fields = ["created_at", "actor", "action_label", "from_label", "to_label", "detail"]
    readonly_fields = fields
    verbose_name = _("history entry")
    verbose_name_plural = _("history")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    @admin.display(description=_("action"))
    def action_label(self, obj):
        return obj.action_label

    @admin.display(description=_("from"))
    def from_label(self, obj):
        return obj.from_label

    @admin.display(description=_("to"))
    def to_label(self, obj):
        return obj.to_label


class AuditActionFilter(admin.SimpleListFilter):
    """The audit log's action filter, in words."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        codes = AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct()
        return [(code, history.action_label(code)) for code in codes]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["email", "first_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "first_name", "last_name", "username"]
    ordering = ["-date_joined"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Privacy"), {"fields": ["privacy_consent_at", "privacy_consent_version"]}),
    )
    readonly_fields = ["privacy_consent_version"]
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
    # Mail waiting or failing, at the top of the list (selectors.outbox_backlog).
    change_list_template = "admin/core/outboxmessage/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        from django.utils import timezone
        from django.utils.timesince import timesince

        from .selectors import outbox_backlog

        backlog = outbox_backlog()
        age = backlog["oldest_pending_age"]
        backlog["oldest_pending_for"] = timesince(timezone.now() - age) if age else ""
        return super().changelist_view(request, {**(extra_context or {}), "backlog": backlog})

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
    list_display = ["created_at", "actor", "action_label", "object_repr", "from_label", "to_label"]
    list_filter = [AuditActionFilter, "content_type", "created_at"]
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

    @admin.display(description=_("action"), ordering="action")
    def action_label(self, obj):
        return obj.action_label

    @admin.display(description=_("from"))
    def from_label(self, obj):
        return obj.from_label

    @admin.display(description=_("to"))
    def to_label(self, obj):
        return obj.to_label


@admin.register(StaffNotificationSetting)
class StaffNotificationSettingAdmin(admin.ModelAdmin):
    """Who is told of new applications, relief requests and co-signatures (a digest mail every
    few minutes, see ``core.services.staff_notices``)."""

    list_display = ["kind", "recipients", "group", "language", "is_active"]
    list_filter = ["is_active"]

    @admin.display(description=_("email addresses"))
    def recipients(self, obj):
        return ", ".join(obj.email_list()) or "—"

    def save_model(self, request, obj, form, change):
        for email in obj.email_list():
            try:
                validate_email(email)
            except ValidationError:
                self.message_user(
                    request,
                    _("“%(email)s” is not an email address; it is skipped.") % {"email": email},
                    messages.WARNING,
                )
        super().save_model(request, obj, form, change)


@admin.register(StaffNotice)
class StaffNoticeAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "object_repr", "notified_at"]
    list_filter = ["kind", ("notified_at", admin.EmptyFieldListFilter)]
    readonly_fields = [f.name for f in StaffNotice._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
