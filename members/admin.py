from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ExportActionMixin, ImportExportModelAdmin

from cqa_portal.core import jobs
from cqa_portal.core.admin import (
    AuditHistoryInline,
    SpreadsheetExportMixin,
    SpreadsheetImportMixin,
    WaitingFirstMixin,
)
from cqa_portal.core.forms import PortalModelForm
from surveys import covid

from . import selectors, services
from .forms import (
    ApplicationDecisionForm,
    FeePaymentForm,
    FeesGenerateForm,
    ReliefDecisionForm,
)
from .models import (
    CompanyMembership,
    FeePayment,
    Invitation,
    MemberCompany,
    MembershipApplication,
    MembershipFee,
    MembershipLevel,
    ReliefDocument,
    ReliefRequest,
)
from .resources import CompanyResource, FeeResource, ReliefRequestResource


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


class FormViewMixin:
    """A staff form on its own admin page (decisions, payments) that calls a service."""

    def render_form(self, request, *, title, form, obj=None, intro="", template="", case=None):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "object": obj,
            "intro": intro,
            "opts": self.model._meta,
            "case": case,
        }
        return TemplateResponse(request, template or "admin/members/form_page.html", context)


@admin.register(MembershipLevel)
class MembershipLevelAdmin(admin.ModelAdmin):
    list_display = ["name", "name_en", "code", "annual_fee", "order"]
    list_editable = ["annual_fee", "order"]


class _RowUserAutocomplete(AutocompleteSelect):
    """The user picker of a linked-user row, labelled from the row's user (loaded with the
    rows) instead of one query per row."""

    known: dict = {}

    def optgroups(self, name, value, attr=None):
        wanted = {str(v) for v in value if str(v) not in self.choices.field.empty_values}
        if not wanted or not wanted <= set(self.known):
            return super().optgroups(name, value, attr)
        options = [] if self.is_required else [self.create_option(name, "", "", False, 0)]
        for key in sorted(wanted):
            label = self.choices.field.label_from_instance(self.known[key])
            options.append(self.create_option(name, key, label, wanted, len(options)))
        return [(None, options, 0)]


class CompanyMembershipInlineForm(PortalModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        widget = self.fields["user"].widget
        widget = getattr(widget, "widget", widget)
        if isinstance(widget, _RowUserAutocomplete) and self.instance.user_id:
            widget.known = {str(self.instance.user_id): self.instance.user}


class CompanyMembershipInline(admin.TabularInline):
    model = CompanyMembership
    form = CompanyMembershipInlineForm
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "joined_at"]
    readonly_fields = ["joined_at"]
    verbose_name = _("linked user")
    verbose_name_plural = _("linked users (link or unlink portal accounts here)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "company")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["widget"] = _RowUserAutocomplete(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(MemberCompany)
class MemberCompanyAdmin(SpreadsheetExportMixin, SpreadsheetImportMixin, ImportExportModelAdmin):
    resource_classes = [CompanyResource]
    list_display = [
        "name",
        "uscc",
        "uscc_needs_review",
        "province",
        "industry_section",
        "level",
        "status",
        "member_since",
    ]
    list_filter = [
        "status",
        "uscc_needs_review",
        "province",
        "industry_section",
        "level",
        "size_band",
    ]
    search_fields = ["name", "name_en", "uscc", "contact_name", "contact_email"]
    list_select_related = ["level"]
    readonly_fields = ["uscc_needs_review", "created_at", "updated_at"]
    inlines = [CompanyMembershipInline, AuditHistoryInline]
    actions = ["make_active", "make_suspended", "make_lapsed"]
    list_per_page = 50

    def save_model(self, request, obj, form, change):
        services.company_prepare(obj)
        services.company_update(company=obj, actor=request.user, changed_fields=form.changed_data)

    def save_formset(self, request, form, formset, change):
        if formset.model is not CompanyMembership:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)  # works out what was added, changed and deleted
        for membership in formset.deleted_objects:
            services.company_user_remove(membership=membership, actor=request.user)
        for membership in [*formset.new_objects, *(obj for obj, _f in formset.changed_objects)]:
            services.company_user_link(
                company=form.instance,
                user=membership.user,
                role=membership.role,
                actor=request.user,
            )

    def _change_status(self, request, queryset, status):
        changed = sum(
            services.company_status_change(company=c, actor=request.user, status=status)
            for c in queryset
        )
        self.message_user(
            request,
            ngettext("%(count)d company updated.", "%(count)d companies updated.", changed)
            % {"count": changed},
            messages.SUCCESS,
        )

    @admin.action(description=_("Set status: active"), permissions=["change"])
    def make_active(self, request, queryset):
        self._change_status(request, queryset, MemberCompany.Status.ACTIVE)

    @admin.action(description=_("Set status: suspended"), permissions=["change"])
    def make_suspended(self, request, queryset):
        self._change_status(request, queryset, MemberCompany.Status.SUSPENDED)

    @admin.action(description=_("Set status: lapsed"), permissions=["change"])
    def make_lapsed(self, request, queryset):
        self._change_status(request, queryset, MemberCompany.Status.LAPSED)


@admin.register(MembershipApplication)
class MembershipApplicationAdmin(WaitingFirstMixin, FormViewMixin, admin.ModelAdmin):
    waiting = Q(status=MembershipApplication.Status.PENDING)
    list_display = ["company", "applicant", "status", "created_at", "decide_link"]
    list_filter = ["status", "company__province", "company__industry_section"]
    search_fields = ["company__name", "company__uscc", "applicant__email"]
    list_select_related = ["company", "applicant"]
    readonly_fields = [
        "applicant",
        "company",
        "status",
        "message",
        "decision_note",
        "decided_by",
        "decided_at",
        "created_at",
    ]
    inlines = [AuditHistoryInline]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("Decision"))
    def decide_link(self, obj):
        if obj.status != MembershipApplication.Status.PENDING:
            return "—"
        url = reverse("admin:members_membershipapplication_decide", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Decide"))

    def get_urls(self):
        return [
            path(
                "<int:pk>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="members_membershipapplication_decide",
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request, pk):
        if not self.has_change_permission(request):
            raise PermissionDenied
        application = get_object_or_404(
            MembershipApplication.objects.select_related("company__level", "applicant"), pk=pk
        )
        form = ApplicationDecisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.membership_application_decide(
                    application=application,
                    actor=request.user,
                    approve=form.cleaned_data["approve"],
                    note=form.cleaned_data["note"],
                )
            except ValidationError as exc:
                form.add_error(None, _errors(exc))
            else:
                self.message_user(
                    request, _("The decision has been recorded and the applicant emailed.")
                )
                return redirect("admin:members_membershipapplication_changelist")
        return self.render_form(
            request,
            title=_("Decide the application of %(company)s") % {"company": application.company},
            form=form,
            template="admin/members/application_decide.html",
            case=selectors.application_case(application=application),
        )


class FeePaymentInline(admin.TabularInline):
    model = FeePayment
    extra = 0
    can_delete = False
    fields = ["paid_on", "amount", "reference", "recorded_by", "recorded_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(MembershipFee)
class MembershipFeeAdmin(
    FormViewMixin, SpreadsheetExportMixin, SpreadsheetImportMixin, ImportExportModelAdmin
):
    resource_classes = [FeeResource]
    list_display = [
        "company",
        "year",
        "amount_due",
        "relief_amount",
        "amount_paid",
        "due_date",
        "status",
        "payment_link",
    ]
    list_filter = ["year", "status", "company__province", "company__industry_section"]
    search_fields = ["company__name", "company__uscc"]
    list_select_related = ["company"]
    readonly_fields = ["relief_amount", "amount_paid", "status", "created_at"]
    inlines = [FeePaymentInline, AuditHistoryInline]
    change_list_template = "admin/members/membershipfee/change_list.html"
    list_per_page = 50

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "company", "year"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        services.fee_save(fee=obj, actor=request.user, reason=_("Edited in the administration"))

    @admin.display(description=_("Payment"))
    def payment_link(self, obj):
        if obj.outstanding <= 0:
            return "—"
        url = reverse("admin:members_membershipfee_payment", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Record payment"))

    def get_urls(self):
        return [
            path(
                "generate/",
                self.admin_site.admin_view(self.generate_view),
                name="members_membershipfee_generate",
            ),
            path(
                "<int:pk>/payment/",
                self.admin_site.admin_view(self.payment_view),
                name="members_membershipfee_payment",
            ),
            path(
                "send-reminders/",
                self.admin_site.admin_view(self.reminders_view),
                name="members_membershipfee_reminders",
            ),
            *super().get_urls(),
        ]

    def generate_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = FeesGenerateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            count = services.fees_generate(
                year=form.cleaned_data["year"],
                due_date=form.cleaned_data["due_date"],
                actor=request.user,
            )
            self.message_user(
                request,
                ngettext(
                    "%(count)d fee generated; companies that already had one were left alone.",
                    "%(count)d fees generated; companies that already had one were left alone.",
                    count,
                )
                % {"count": count},
                messages.SUCCESS,
            )
            return redirect("admin:members_membershipfee_changelist")
        return self.render_form(
            request,
            title=_("Generate a year's fees for all active companies"),
            form=form,
            intro=_(
                "Each active member company without a fee for the year gets one, at its level's "
                "annual fee. Running it again creates nothing new."
            ),
        )

    def reminders_view(self, request):
        """Send the dues reminders due today now, as a background job (the daily run sends
        the same ones; none is sent twice)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            job = jobs.job_start(
                kind="members.fee_reminders",
                owner=request.user,
                title=_("Dues reminders sent by hand"),
            )
            return redirect(jobs.job_url(job))
        return self.render_form(
            request,
            title=_("Send the dues reminders due today"),
            form=forms.Form(),
            intro=_(
                "The reminders due today are written now instead of at the daily run. A fee "
                "gets each reminder once, and none while its company has a pending or granted "
                "relief request."
            ),
        )

    def payment_view(self, request, pk):
        if not self.has_change_permission(request):
            raise PermissionDenied
        fee = get_object_or_404(MembershipFee.objects.select_related("company"), pk=pk)
        form = FeePaymentForm(request.POST or None, initial={"amount": fee.outstanding})
        if request.method == "POST" and form.is_valid():
            try:
                services.fee_payment_record(fee=fee, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, _errors(exc))
            else:
                self.message_user(request, _("The payment has been recorded."), messages.SUCCESS)
                return redirect("admin:members_membershipfee_changelist")
        return self.render_form(
            request,
            title=_("Record a payment: %(fee)s") % {"fee": fee},
            form=form,
            obj=fee,
            intro=_("Outstanding: %(amount)s CNY") % {"amount": fee.outstanding},
        )


class ReliefDocumentInline(admin.TabularInline):
    model = ReliefDocument
    extra = 0
    can_delete = False
    fields = ["download", "content_type", "size", "uploaded_by", "uploaded_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("file"))
    def download(self, obj):
        url = reverse("members:relief_document", args=[obj.request_id, obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.original_name)


class PendingFirstFilter(admin.SimpleListFilter):
    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("pending", _("Waiting for a decision")), ("decided", _("Decided or closed"))]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(status__in=ReliefRequest.PENDING_STATUSES)
        if self.value() == "decided":
            return queryset.exclude(status__in=ReliefRequest.PENDING_STATUSES)
        return queryset


class SurveyAnswerFilter(admin.SimpleListFilter):
    """Filter the relief queue by the company's answer in the impact survey."""

    question = ""

    def lookups(self, request, model_admin):
        return [*selectors.survey_option_choices(self.question), ("unanswered", _("No answer"))]

    def queryset(self, request, queryset):
        if self.value() == "unanswered":
            return queryset.filter(**{f"survey_{self.parameter_name}__isnull": True})
        if self.value():
            return queryset.filter(**{f"survey_{self.parameter_name}": self.value()})
        return queryset


class ImpactFilter(SurveyAnswerFilter):
    title = _("impact (survey)")
    parameter_name = "impact"
    question = covid.IMPACT_QUESTION


class ResumptionFilter(SurveyAnswerFilter):
    title = _("resumption (survey)")
    parameter_name = "resumption"
    question = covid.RESUMPTION_QUESTION


@admin.register(ReliefRequest)
class ReliefRequestAdmin(
    WaitingFirstMixin, FormViewMixin, SpreadsheetExportMixin, ExportActionMixin, admin.ModelAdmin
):
    waiting = Q(status__in=ReliefRequest.PENDING_STATUSES)
    waiting_since = "submitted_at"
    resource_classes = [ReliefRequestResource]
    list_display = [
        "company",
        "year",
        "kind",
        "status",
        "province",
        "impact",
        "resumption",
        "submitted_at",
        "decide_link",
    ]
    list_filter = [
        PendingFirstFilter,
        ImpactFilter,
        ResumptionFilter,
        "year",
        "status",
        "kind",
        "company__province",
        "company__industry_section",
        "reasons",
    ]
    search_fields = ["company__name", "company__uscc"]
    list_select_related = ["company"]
    inlines = [ReliefDocumentInline, AuditHistoryInline]
    actions = ["start_review"]
    fields = [
        "decide_link",
        "company",
        "year",
        "kind",
        "requested_amount",
        "deferral_until",
        "reason_list",
        "explanation",
        "status",
        "granted_amount",
        "decision_note",
        "decided_by",
        "decided_at",
        "created_by",
        "submitted_at",
        "fee_history",
        "earlier_requests",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Nothing here is edited directly: decisions go through the Decide page.
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_queryset(self, request):
        return selectors.relief_queue(super().get_queryset(request))

    # Sorting: the option's order (none → severe; full → not resumed), unanswered below all.
    @admin.display(description=_("impact (survey)"), ordering=Coalesce("impact_rank", -1))
    def impact(self, obj):
        return selectors.survey_option_label(covid.IMPACT_QUESTION, obj.survey_impact) or "—"

    @admin.display(description=_("resumption (survey)"), ordering=Coalesce("resumption_rank", -1))
    def resumption(self, obj):
        label = selectors.survey_option_label(covid.RESUMPTION_QUESTION, obj.survey_resumption)
        return label or "—"

    @admin.display(description=_("province"), ordering="company__province")
    def province(self, obj):
        return obj.company.get_province_display()

    @admin.display(description=_("reasons"))
    def reason_list(self, obj):
        return "、".join(str(r) for r in obj.reasons.all()) or "—"

    @admin.display(description=_("fee history"))
    def fee_history(self, obj):
        fees = selectors.company_fee_history(company_id=obj.company_id)
        if not fees:
            return "—"
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("Year"),
            _("Due"),
            _("Relief"),
            _("Paid"),
            _("Status"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (f.year, f.amount_due, f.relief_amount, f.amount_paid, f.get_status_display())
                    for f in fees
                ),
            ),
        )

    @admin.display(description=_("earlier requests"))
    def earlier_requests(self, obj):
        others = selectors.company_other_requests(relief=obj)
        if not others:
            return "—"
        return format_html_join(
            "",
            '<div><a href="{}">{} · {} · {}</a></div>',
            (
                (
                    reverse("admin:members_reliefrequest_change", args=[r.pk]),
                    r.year,
                    r.get_kind_display(),
                    r.get_status_display(),
                )
                for r in others
            ),
        )

    @admin.display(description=_("Decision"))
    def decide_link(self, obj):
        if obj.status not in ReliefRequest.PENDING_STATUSES:
            return "—"
        url = reverse("admin:members_reliefrequest_decide", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Decide"))

    @admin.action(description=_("Start review of the selected requests"), permissions=["change"])
    def start_review(self, request, queryset):
        count = 0
        for relief in queryset.filter(status=ReliefRequest.Status.SUBMITTED):
            services.relief_request_start_review(relief=relief, actor=request.user)
            count += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d request is now under review.",
                "%(count)d requests are now under review.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="members_reliefrequest_decide",
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request, pk):
        if not self.has_change_permission(request):
            raise PermissionDenied
        relief = get_object_or_404(
            ReliefRequest.objects.select_related("company__level").prefetch_related(
                "reasons", "documents"
            ),
            pk=pk,
        )
        form = ReliefDecisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.relief_request_decide(
                    relief=relief,
                    actor=request.user,
                    decision=form.cleaned_data["decision"],
                    note=form.cleaned_data["note"],
                    granted_amount=form.cleaned_data["granted_amount"],
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.error_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, _errors(exc))
            else:
                self.message_user(
                    request,
                    _("The decision has been recorded and the company emailed."),
                    messages.SUCCESS,
                )
                return redirect("admin:members_reliefrequest_change", relief.pk)
        return self.render_form(
            request,
            title=_("Decide: %(request)s") % {"request": relief},
            form=form,
            template="admin/members/relief_decide.html",
            case=selectors.relief_case(relief=relief),
        )


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "company", "invited_by", "created_at", "accepted_at", "revoked_at"]
    list_filter = ["accepted_at", "revoked_at"]
    search_fields = ["email", "company__name"]
    list_select_related = ["company", "invited_by"]
    readonly_fields = ["company", "email", "invited_by", "created_at", "accepted_at", "revoked_at"]

    def has_add_permission(self, request):
        return False
