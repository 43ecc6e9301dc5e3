from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ExportActionMixin, ExportMixin, ImportMixin
from import_export.formats.base_formats import CSV, XLSX

from cqa_portal.core import exports, jobs
from cqa_portal.core.admin import (
    AuditHistoryInline,
    SpreadsheetExportMixin,
    SpreadsheetImportMixin,
    message_job_started,
)
from cqa_portal.core.errors import PortalError
from cqa_portal.core.forms import PortalForm

from . import selectors, services
from .models import (
    AttendanceRecord,
    Lecturer,
    Registration,
    Series,
    Session,
    Topic,
    TopicNeed,
)
from .resources import AttendanceRecordResource, AttendanceResource, RegistrantResource


class TopicNeedInline(admin.TabularInline):
    model = TopicNeed
    extra = 1


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    inlines = [TopicNeedInline]
    list_display = ["name", "name_en", "slug", "order", "session_count"]
    list_editable = ["order"]
    search_fields = ["name", "name_en"]
    prepopulated_fields = {"slug": ["name_en"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(session_count=Count("sessions"))

    @admin.display(description=_("course sessions"), ordering="session_count")
    def session_count(self, obj):
        return obj.session_count


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ["name", "name_en", "topic", "session_count"]
    list_filter = ["topic"]
    list_select_related = ["topic"]
    search_fields = ["name", "name_en"]
    prepopulated_fields = {"slug": ["name_en"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(session_count=Count("sessions"))

    @admin.display(description=_("course sessions"), ordering="session_count")
    def session_count(self, obj):
        return obj.session_count


@admin.register(Lecturer)
class LecturerAdmin(admin.ModelAdmin):
    list_display = ["name", "title", "organisation"]
    search_fields = ["name", "organisation"]


class CancelForm(PortalForm):
    reason = forms.CharField(
        label=_("Reason (sent to registrants)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class SessionWhenFilter(admin.SimpleListFilter):
    """Held or upcoming, as the schedule and the staff dashboard count them."""

    title = _("when")
    parameter_name = "when"

    def lookups(self, request, model_admin):
        return [("upcoming", _("Upcoming")), ("held", _("Held"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "held":
            return queryset.filter(selectors.held_q(now))
        if self.value() == "upcoming":
            return queryset.filter(selectors.upcoming_q(now))
        return queryset


@admin.register(Session)
class SessionAdmin(SpreadsheetImportMixin, ImportMixin, admin.ModelAdmin):
    """Sessions with their registration and waiting counts. "Import" on the list takes the
    live platform's attendance export (CSV in UTF-8 or GBK, or XLSX)."""

    resource_classes = [AttendanceResource]
    skip_admin_log = True  # the audit log records the attendance import

    list_display = [
        "title",
        "starts_at",
        "topic",
        "series",
        "status",
        "seats",
        "confirmed_count",
        "waiting_count",
        "participants",
    ]
    list_filter = [SessionWhenFilter, "status", "topic", "series"]
    list_select_related = ["topic", "series"]
    search_fields = ["title", "title_en", "lecturers__name"]
    date_hierarchy = "starts_at"
    ordering = ["-starts_at"]
    # A plain multiple select: the two-pane filter widget fails axe-core (aria-label on spans).
    readonly_fields = [
        "uid",
        "sequence",
        "registrations_link",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "title",
                    "title_en",
                    "topic",
                    "series",
                    "lecturers",
                    "lecturers_en",
                    "description",
                    "description_en",
                ]
            },
        ),
        (
            _("Time and place"),
            {"fields": ["starts_at", "ends_at", "platform", "platform_en", "join_url"]},
        ),
        (_("Seats and status"), {"fields": ["capacity", "status", "registrations_link"]}),
        (_("After the session"), {"fields": ["replay_url"]}),
        (_("Record"), {"fields": ["uid", "sequence", "created_at", "updated_at"]}),
    ]
    inlines = [AuditHistoryInline]
    actions = ["export_registrants", "duplicate_sessions", "cancel_with_notice"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request):
        return selectors.with_counts(super().get_queryset(request))

    def has_import_permission(self, request):
        return self.has_change_permission(request)

    @admin.display(description=_("capacity"), ordering="capacity")
    def seats(self, obj):
        return _("unlimited") if obj.capacity is None else obj.capacity

    @admin.display(description=_("confirmed"), ordering="confirmed_count")
    def confirmed_count(self, obj):
        return obj.confirmed_count

    @admin.display(description=_("waiting"), ordering="waiting_count")
    def waiting_count(self, obj):
        return obj.waiting_count

    @admin.display(description=_("participants"), ordering="participants")
    def participants(self, obj):
        return obj.participants if obj.participants is not None else "–"

    @admin.display(description=_("registrations"))
    def registrations_link(self, obj):
        if obj.pk is None:
            return "–"
        url = reverse("admin:courses_registration_changelist") + f"?session__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">{}</a>',
            url,
            _("%(confirmed)d confirmed, %(waiting)d waiting: see the registrations")
            % {"confirmed": obj.confirmed_count, "waiting": obj.waiting_count},
        )

    def save_model(self, request, obj, form, change):
        result = services.session_save(session=obj, actor=request.user)
        if result.rescheduled and result.notified:
            self.message_user(
                request,
                ngettext(
                    "The time changed: %(count)d registrant is being told.",
                    "The time changed: %(count)d registrants are being told.",
                    result.notified,
                )
                % {"count": result.notified},
                messages.INFO,
            )
        if result.cancelled:
            self.message_user(
                request, _("The session is cancelled and its registrants are being told.")
            )
        if result.promoted:
            self.message_user(
                request,
                ngettext(
                    "%(count)d person moved up from the waiting list.",
                    "%(count)d people moved up from the waiting list.",
                    result.promoted,
                )
                % {"count": result.promoted},
            )
        if result.over_capacity:
            self.message_user(
                request,
                _(
                    "More people are confirmed than the new capacity allows (%(count)d over); "
                    "nobody was removed."
                )
                % {"count": result.over_capacity},
                messages.WARNING,
            )

    def import_done_message(self, result):
        summary = getattr(result, "attendance_summary", None)
        if summary is None:
            return super().import_done_message(result)
        return (
            _(
                "Attendance recorded for %(sessions)d sessions: %(participants)d "
                "participant-times (%(emails)d attendee emails, %(matched)d matched to "
                "registrations)."
            )
            % summary.__dict__
        )

    @admin.action(description=_("Export the registrants (XLSX)"), permissions=["view"])
    def export_registrants(self, request, queryset):
        rows = selectors.registrants(session_ids=queryset.values_list("pk", flat=True))
        sheet = exports.resource_sheet(RegistrantResource(), rows)
        return exports.xlsx_response([sheet], filename=exports.dated_filename(_("registrants")))

    @admin.action(description=_("Duplicate (one week later)"), permissions=["add"])
    def duplicate_sessions(self, request, queryset):
        copies = [
            services.session_duplicate(session_id=pk, actor=request.user)
            for pk in queryset.order_by("starts_at").values_list("pk", flat=True)
        ]
        links = format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:courses_session_change", args=[c.pk]), str(c)) for c in copies),
        )
        self.message_user(
            request, format_html("{} {}", _("Created, please check the copies:"), links)
        )

    @admin.action(description=_("Cancel with notice to registrants"), permissions=["change"])
    def cancel_with_notice(self, request, queryset):
        if "apply" in request.POST:
            form = CancelForm(request.POST)
            if form.is_valid():
                job = jobs.job_start(
                    kind="courses.cancel_with_notice",
                    owner=request.user,
                    title=_("Cancel %(count)d sessions with notice") % {"count": queryset.count()},
                    params={
                        "sessions": list(queryset.values_list("pk", flat=True)),
                        "reason": form.cleaned_data["reason"],
                    },
                )
                message_job_started(self, request, job)
                return None
        else:
            form = CancelForm()
        return TemplateResponse(
            request,
            "admin/courses/session/cancel_with_notice.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Cancel sessions and tell their registrants"),
                "opts": self.model._meta,
                "sessions": queryset,
                "form": form,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(Registration)
class RegistrationAdmin(SpreadsheetExportMixin, ExportMixin, admin.ModelAdmin):
    """Registrations change only through the portal's rules (register, confirm, cancel,
    promotion), so this view is read-only apart from the cancel action."""

    resource_classes = [RegistrantResource]
    export_formats = [XLSX, CSV]
    list_display = [
        "name",
        "email",
        "organisation",
        "session",
        "status",
        "position",
        "created_at",
        "confirmed_at",
    ]
    list_filter = ["status", "session__topic", ("session", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["session", "user"]
    search_fields = ["name", "email", "organisation", "session__title"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    inlines = [AuditHistoryInline]
    actions = ["cancel_registrations"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(attended=Count("attendance_records"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_cancel_permission(self, request):
        return request.user.has_perm("courses.change_registration")

    @admin.action(description=_("Cancel the selected registrations"), permissions=["cancel"])
    def cancel_registrations(self, request, queryset):
        cancelled = 0
        for pk in queryset.exclude(status=Registration.Status.CANCELLED).values_list(
            "pk", flat=True
        ):
            try:
                services.registration_cancel(
                    registration_id=pk, actor=request.user, reason="cancelled by staff"
                )
            except PortalError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                continue
            cancelled += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d registration cancelled.",
                "%(count)d registrations cancelled.",
                cancelled,
            )
            % {"count": cancelled},
            messages.SUCCESS,
        )


@admin.register(AttendanceRecord)
class AttendanceRecordAdmin(SpreadsheetExportMixin, ExportActionMixin, admin.ModelAdmin):
    """What the attendance imports recorded (import them from the course sessions list)."""

    resource_classes = [AttendanceRecordResource]

    list_display = ["session", "participants", "email", "registration", "imported_at"]
    list_filter = [("session", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["session", "registration"]
    search_fields = ["email", "session__title"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
