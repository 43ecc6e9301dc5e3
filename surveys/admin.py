"""Staff build surveys here; once a survey has responses its structure is frozen (clear error)."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from cqa_portal.core import jobs
from cqa_portal.core.admin import AuditHistoryInline, message_job_started
from cqa_portal.core.forms import PortalModelForm

from . import selectors, services
from .models import (
    Answer,
    Question,
    QuestionOption,
    Response,
    SummarySnapshot,
    Survey,
)

RESERVED_SLUGS = {"findings", "responses"}


class SurveyForm(PortalModelForm):
    class Meta:
        model = Survey
        fields = [
            "title",
            "title_en",
            "slug",
            "description",
            "description_en",
            "opens_at",
            "closes_at",
            "reminder_days",
            "status",
            "results_published",
        ]

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if slug in RESERVED_SLUGS:
            raise ValidationError(_("This address is reserved; choose another slug."))
        return slug

    def clean_reminder_days(self):
        value = self.cleaned_data["reminder_days"].strip()
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if any(not p.isdigit() or int(p) < 1 for p in parts):
            raise ValidationError(_("Use whole numbers of days separated by commas, e.g. 7,2."))
        return ",".join(parts)


class QuestionForm(PortalModelForm):
    class Meta:
        model = Question
        fields = [
            "order",
            "code",
            "kind",
            "text",
            "text_en",
            "help_text",
            "help_text_en",
            "required",
            "min_value",
            "max_value",
            "decimal_places",
            "condition_question",
            "condition_options",
        ]
        widgets = {
            "text": forms.TextInput(attrs={"size": 40}),
            "text_en": forms.TextInput(attrs={"size": 30}),
            "help_text": forms.TextInput(attrs={"size": 20}),
            "help_text_en": forms.TextInput(attrs={"size": 20}),
        }

    def __init__(self, *args, survey: Survey | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if survey is None and self.instance.survey_id:
            survey = self.instance.survey
        self.survey = survey
        singles = Question.objects.none()
        options = QuestionOption.objects.none()
        if survey is not None and survey.pk:
            singles = Question.objects.filter(survey=survey, kind=Question.Kind.SINGLE)
            options = QuestionOption.objects.filter(
                question__survey=survey, question__kind=Question.Kind.SINGLE
            ).select_related("question")
        if "condition_question" in self.fields:
            self.fields["condition_question"].queryset = singles
        if "condition_options" in self.fields:
            self.fields["condition_options"].queryset = options

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind and kind != Question.Kind.NUMBER:
            if cleaned.get("min_value") is not None or cleaned.get("max_value") is not None:
                self.add_error("min_value", _("Bounds apply to number questions only."))
        low, high = cleaned.get("min_value"), cleaned.get("max_value")
        if low is not None and high is not None and low > high:
            self.add_error("max_value", _("The maximum must not be below the minimum."))
        if "order" in cleaned and self.survey is not None:
            probe = Question(
                pk=self.instance.pk,
                survey=self.survey,
                order=cleaned["order"],
                kind=kind or "",
                condition_question=cleaned.get("condition_question"),
            )
            try:
                services.question_condition_check(
                    question=probe, condition_options=cleaned.get("condition_options")
                )
            except ValidationError as exc:
                self.add_error("condition_question", exc)
        return cleaned


class StructureGuardFormSet(BaseInlineFormSet):
    """Refuses added, deleted or structurally changed rows once the survey has responses."""

    def survey(self) -> Survey | None:
        parent = self.instance
        return parent if isinstance(parent, Survey) else getattr(parent, "survey", None)

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        if self.model is Question:
            kwargs["survey"] = self.instance
        return kwargs

    def clean(self):
        super().clean()
        for form in self.forms:
            if not form.has_changed():
                continue
            deleted = self.can_delete and self._should_delete_form(form)
            services.structure_check(
                survey=self.survey(),
                changed_fields=set(form.changed_data) - {"DELETE"},
                added=form.instance.pk is None,
                deleted=bool(deleted),
            )


class QuestionInline(admin.TabularInline):
    model = Question
    form = QuestionForm
    formset = StructureGuardFormSet
    extra = 0
    fk_name = "survey"
    show_change_link = True
    ordering = ["order", "pk"]
    fields = [
        "order",
        "code",
        "kind",
        "text",
        "text_en",
        "required",
        "min_value",
        "max_value",
        "decimal_places",
        "condition_question",
        "condition_options",
        "option_summary",
    ]
    readonly_fields = ["option_summary"]

    @admin.display(description=_("answer options"))
    def option_summary(self, obj):
        if not obj.pk or not obj.is_choice:
            return "–"
        labels = " / ".join(o.label_zh for o in obj.options.all())
        return format_html(
            '{} <a href="{}">{}</a>',
            labels or _("none yet"),
            reverse("admin:surveys_question_change", args=[obj.pk]),
            _("edit options"),
        )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("options", "condition_options")


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    form = SurveyForm
    list_display = [
        "title",
        "status",
        "opens_at",
        "closes_at",
        "response_total",
        "results_published",
        "links",
    ]
    list_filter = ["status", "results_published"]
    search_fields = ["title", "title_en", "slug"]
    prepopulated_fields = {"slug": ["title_en"]}
    inlines = [QuestionInline, AuditHistoryInline]
    actions = [
        "open_surveys",
        "close_surveys",
        "publish_results",
        "unpublish_results",
        "refresh_summary",
        "send_reminders",
        "duplicate_surveys",
    ]
    fieldsets = [
        (None, {"fields": ["title", "title_en", "slug", "description", "description_en"]}),
        (
            _("Timing"),
            {"fields": ["opens_at", "closes_at", "reminder_days", "status", "results_published"]},
        ),
    ]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.fieldsets
        return [*self.fieldsets, (_("Reminders"), {"fields": ["reminders_sent"]})]

    def get_readonly_fields(self, request, obj=None):
        # Status and publication change through the actions, which record them in the history.
        return ["status", "results_published", "reminders_sent"] if obj else []

    @admin.display(description=_("reminders sent"))
    def reminders_sent(self, obj):
        rows = selectors.reminders_sent(obj)
        if not rows:
            return _("none yet")
        url = (
            reverse("admin:core_outboxmessage_changelist")
            + "?"
            + urlencode({"q": f"surveys.reminder:{obj.pk}:"})
        )
        lines = format_html_join(
            "",
            "<li>{}</li>",
            (
                (
                    _("%(step)s: %(companies)d companies, %(mails)d mails")
                    % {"step": step, "companies": companies, "mails": mails},
                )
                for step, companies, mails in rows
            ),
        )
        return format_html(
            '<ul class="mb-1">{}</ul><a href="{}">{}</a>', lines, url, _("See the mails")
        )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(response_count=Count("responses"))

    @admin.display(description=_("responses"), ordering="response_count")
    def response_total(self, obj):
        return obj.response_count

    @admin.display(description=_("results and exports"))
    def links(self, obj):
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">XLSX</a> · <a href="{}">CSV</a> · '
            '<a href="{}">{}</a>',
            reverse("surveys:staff_results", args=[obj.slug]),
            _("results"),
            reverse("surveys:export_responses", args=[obj.slug, "xlsx"]),
            reverse("surveys:export_responses", args=[obj.slug, "csv"]),
            reverse("surveys:export_summary", args=[obj.slug]),
            _("summary"),
        )

    def _each(self, request, queryset, call, done_message):
        done = 0
        for survey in queryset:
            try:
                done += bool(call(survey))
            except ValidationError as exc:
                self.message_user(request, f"{survey}: {' '.join(exc.messages)}", messages.ERROR)
        self.message_user(request, done_message % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Open the selected surveys"))
    def open_surveys(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda s: services.survey_set_status(
                survey=s, status=Survey.Status.OPEN, actor=request.user
            ),
            _("%(count)d surveys opened."),
        )

    @admin.action(description=_("Close the selected surveys"))
    def close_surveys(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda s: services.survey_set_status(
                survey=s, status=Survey.Status.CLOSED, actor=request.user
            ),
            _("%(count)d surveys closed."),
        )

    @admin.action(description=_("Publish the findings (public results page)"))
    def publish_results(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda s: services.survey_set_published(survey=s, published=True, actor=request.user),
            _("%(count)d surveys published."),
        )

    @admin.action(description=_("Withdraw the published findings"))
    def unpublish_results(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda s: services.survey_set_published(survey=s, published=False, actor=request.user),
            _("%(count)d surveys withdrawn."),
        )

    @admin.action(description=_("Refresh the summary now"))
    def refresh_summary(self, request, queryset):
        for survey in queryset:
            if services.summary_refresh_request(survey=survey, actor=request.user):
                self.message_user(
                    request,
                    format_html(
                        '{} <a href="{}">{}</a>',
                        _("%(survey)s: summary requested.") % {"survey": survey},
                        reverse("surveys:staff_results", args=[survey.slug]),
                        _("See the results page"),
                    ),
                )
            else:
                self.message_user(
                    request,
                    _("%(survey)s: a summary is already being computed.") % {"survey": survey},
                    messages.WARNING,
                )

    @admin.action(description=_("Send reminders to members that have not submitted"))
    def send_reminders(self, request, queryset):
        """A mass mailing: each survey's reminders are written by a background job."""
        for survey in queryset:
            if not survey.is_accepting:
                self.message_user(
                    request,
                    _("%(survey)s is not open: no reminders sent.") % {"survey": survey},
                    messages.WARNING,
                )
                continue
            job = jobs.job_start(
                kind="surveys.reminders",
                owner=request.user,
                title=_("Reminders for %(survey)s") % {"survey": survey},
                params={"survey": survey.pk},
            )
            message_job_started(self, request, job)

    @admin.action(description=_("Duplicate as a new draft"))
    def duplicate_surveys(self, request, queryset):
        copies = [services.survey_duplicate(survey=s, actor=request.user) for s in queryset]
        if len(copies) == 1:
            return redirect("admin:surveys_survey_change", copies[0].pk)
        self.message_user(request, _("%(count)d surveys copied.") % {"count": len(copies)})
        return None


class OptionInline(admin.TabularInline):
    model = QuestionOption
    formset = StructureGuardFormSet
    extra = 0
    fields = ["order", "code", "label_zh", "label_en", "is_other"]
    ordering = ["order", "pk"]


class QuestionAdminForm(QuestionForm):
    class Meta(QuestionForm.Meta):
        fields = ["survey", *QuestionForm.Meta.fields]

    def clean(self):
        cleaned = super().clean()
        survey = cleaned.get("survey") or self.survey
        services.structure_check(
            survey=survey,
            changed_fields=self.changed_data,
            added=self.instance.pk is None,
            deleted=False,
        )
        return cleaned


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    form = QuestionAdminForm
    list_display = ["text", "survey", "order", "code", "kind", "required"]
    list_filter = ["survey", "kind"]
    search_fields = ["text", "text_en", "code"]
    list_select_related = ["survey"]
    inlines = [OptionInline]

    def has_delete_permission(self, request, obj=None):
        if obj is not None and services.structure_locked(obj.survey):
            return False
        return super().has_delete_permission(request, obj)


class AnswerInline(admin.TabularInline):
    model = Answer
    extra = 0
    can_delete = False
    fields = ["question", "option", "number", "text", "date"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("question", "option", "option__question")
            .order_by("question__order", "option__order")
        )


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = [
        "company",
        "survey",
        "status",
        "submitted_at",
        "province",
        "region_group",
        "industry_section",
    ]
    list_filter = ["survey", "status", "region_group", "industry_section"]
    search_fields = ["company__name", "company__uscc"]
    list_select_related = ["company", "survey"]
    date_hierarchy = "submitted_at"
    inlines = [AnswerInline, AuditHistoryInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SummarySnapshot)
class SummarySnapshotAdmin(admin.ModelAdmin):
    list_display = ["created_at", "survey", "response_count", "duration_ms"]
    list_filter = ["survey"]
    list_select_related = ["survey"]
    exclude = ["data"]
    readonly_fields = ["survey", "created_at", "response_count", "duration_ms"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("data")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
