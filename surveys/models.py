"""Surveys built by staff, member companies' responses, reminders and summary snapshots.

A survey is a list of ordered questions; choice questions have options. A response belongs to a
company (one per survey) and holds one ``Answer`` row per scalar answer and one per chosen
option, so every summary is a GROUP BY over ``Answer`` joined to ``Response``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cqa_portal.core.localize import in_english, localized
from cqa_portal.core.reference import IndustrySection, Province, RegionGroup
from cqa_portal.core.validators import validate_multi_line, validate_single_line
from members.models import MemberCompany


class Survey(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    title = models.CharField(_("title"), max_length=200, validators=[validate_single_line])
    title_en = models.CharField(
        _("English title"), max_length=200, blank=True, validators=[validate_single_line]
    )
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    description = models.TextField(_("description"), blank=True, validators=[validate_multi_line])
    description_en = models.TextField(
        _("English description"), blank=True, validators=[validate_multi_line]
    )
    opens_at = models.DateTimeField(_("opens at"))
    closes_at = models.DateTimeField(_("closes at"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    reminder_days = models.CharField(
        _("reminder days before closing"),
        max_length=50,
        blank=True,
        default="7,2",
        help_text=_(
            "Comma-separated numbers of days before closing on which companies that have not "
            "submitted get a reminder, e.g. 7,2. Leave empty for no automatic reminders."
        ),
        validators=[validate_single_line],
    )
    results_published = models.BooleanField(
        _("findings published"),
        default=False,
        help_text=_("Public results page with aggregates only; small groups are suppressed."),
    )
    # The claim on computing the summary: a short lease, renewed while the worker computes, so
    # a worker that dies releases it within a minute (services.summary_refresh_request).
    summary_claimed_at = models.DateTimeField(
        _("summary claim renewed at"), null=True, blank=True, editable=False
    )
    summary_request_id = models.CharField(
        _("summary request"), max_length=32, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["-opens_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")),
                name="survey_closes_after_opening",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def display_title(self) -> str:
        return localized(self, "title")

    @property
    def display_description(self) -> str:
        return localized(self, "description")

    @property
    def is_accepting(self) -> bool:
        """Member companies can save and submit answers now."""
        now = timezone.now()
        return self.status == self.Status.OPEN and self.opens_at <= now < self.closes_at

    def reminder_steps(self) -> list[int]:
        steps = []
        for part in self.reminder_days.split(","):
            part = part.strip()
            if part.isdigit() and int(part) not in steps:
                steps.append(int(part))
        return sorted(steps, reverse=True)


class Question(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", _("Single choice")
        MULTIPLE = "multiple", _("Multiple choice")
        NUMBER = "number", _("Number")
        SHORT_TEXT = "short_text", _("Short text")
        LONG_TEXT = "long_text", _("Long text")
        DATE = "date", _("Date")

    CHOICE_KINDS = (Kind.SINGLE, Kind.MULTIPLE)

    survey = models.ForeignKey(
        Survey, verbose_name=_("survey"), on_delete=models.CASCADE, related_name="questions"
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    code = models.SlugField(
        _("code"),
        max_length=50,
        help_text=_("Short name used in exports and summaries, e.g. impact_degree."),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    text = models.CharField(_("question"), max_length=300, validators=[validate_single_line])
    text_en = models.CharField(
        _("English question"), max_length=300, blank=True, validators=[validate_single_line]
    )
    help_text = models.CharField(
        _("help text"), max_length=300, blank=True, validators=[validate_single_line]
    )
    help_text_en = models.CharField(
        _("English help text"), max_length=300, blank=True, validators=[validate_single_line]
    )
    required = models.BooleanField(_("required"), default=False)
    min_value = models.DecimalField(
        _("minimum"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    max_value = models.DecimalField(
        _("maximum"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    decimal_places = models.PositiveSmallIntegerField(
        _("decimal places"), default=0, help_text=_("For numbers: 0 accepts whole numbers only.")
    )
    condition_question = models.ForeignKey(
        "self",
        verbose_name=_("shown only if question"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dependent_questions",
        help_text=_("An earlier single-choice question of the same survey."),
    )
    condition_options = models.ManyToManyField(
        "QuestionOption",
        verbose_name=_("has one of the answers"),
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["survey", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "code"], name="question_code_per_survey"),
            models.CheckConstraint(
                condition=Q(min_value__isnull=True)
                | Q(max_value__isnull=True)
                | Q(min_value__lte=models.F("max_value")),
                name="question_min_not_above_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.text}"

    @property
    def label(self) -> str:
        return localized(self, "text")

    @property
    def display_help(self) -> str:
        return localized(self, "help_text")

    @property
    def is_choice(self) -> bool:
        return self.kind in self.CHOICE_KINDS

    @property
    def field_name(self) -> str:
        return f"q_{self.code}"


class QuestionOption(models.Model):
    question = models.ForeignKey(
        Question, verbose_name=_("question"), on_delete=models.CASCADE, related_name="options"
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    code = models.SlugField(_("code"), max_length=50)
    label_zh = models.CharField(_("label"), max_length=200, validators=[validate_single_line])
    label_en = models.CharField(
        _("English label"), max_length=200, blank=True, validators=[validate_single_line]
    )
    is_other = models.BooleanField(
        _("asks for details"),
        default=False,
        help_text=_('An "other" option: the company says what it means in a text box.'),
    )

    class Meta:
        verbose_name = _("answer option")
        verbose_name_plural = _("answer options")
        ordering = ["question", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["question", "code"], name="option_code_per_question")
        ]

    def __str__(self) -> str:
        return f"{self.question.code}: {self.label_zh}"

    @property
    def label(self) -> str:
        return self.label_en if in_english() and self.label_en else self.label_zh


class Response(models.Model):
    """One company's answers to one survey. Province, industry and size are copied at submission."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")

    survey = models.ForeignKey(
        Survey, verbose_name=_("survey"), on_delete=models.PROTECT, related_name="responses"
    )
    company = models.ForeignKey(
        MemberCompany,
        verbose_name=_("company"),
        on_delete=models.CASCADE,
        related_name="survey_responses",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    province = models.CharField(
        _("province at submission"), max_length=2, choices=Province.choices, blank=True
    )
    region_group = models.CharField(
        _("region group at submission"), max_length=20, choices=RegionGroup.choices, blank=True
    )
    industry_section = models.CharField(
        _("industry section at submission"),
        max_length=1,
        choices=IndustrySection.choices,
        blank=True,
    )
    industry_division = models.CharField(
        _("industry division at submission"),
        max_length=100,
        blank=True,
        validators=[validate_single_line],
    )
    size_band = models.CharField(
        _("company size at submission"),
        max_length=10,
        choices=MemberCompany.SizeBand.choices,
        blank=True,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        ordering = ["-submitted_at", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "company"], name="one_response_per_company_per_survey"
            )
        ]
        indexes = [
            models.Index(fields=["survey", "status"], name="response_survey_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.survey} · {self.company}"

    @property
    def is_submitted(self) -> bool:
        return self.status == self.Status.SUBMITTED


class Answer(models.Model):
    """One scalar answer (option empty) or one chosen option (with the "other" text, if any)."""

    response = models.ForeignKey(
        Response, verbose_name=_("response"), on_delete=models.CASCADE, related_name="answers"
    )
    question = models.ForeignKey(
        Question, verbose_name=_("question"), on_delete=models.PROTECT, related_name="answers"
    )
    option = models.ForeignKey(
        QuestionOption,
        verbose_name=_("option"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="answers",
    )
    number = models.DecimalField(
        _("number"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    text = models.TextField(_("text"), blank=True, validators=[validate_multi_line])
    date = models.DateField(_("date"), null=True, blank=True)

    class Meta:
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(
                fields=["response", "question", "option"], name="answer_option_once"
            ),
            models.UniqueConstraint(
                fields=["response", "question"],
                condition=Q(option__isnull=True),
                name="answer_scalar_once",
            ),
        ]
        indexes = [
            models.Index(fields=["question", "option"], name="answer_question_option_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.response_id}/{self.question_id}"


class SummarySnapshot(models.Model):
    """The summary of a survey as computed at one moment; pages read the latest one."""

    survey = models.ForeignKey(
        Survey, verbose_name=_("survey"), on_delete=models.CASCADE, related_name="snapshots"
    )
    created_at = models.DateTimeField(_("made at"), default=timezone.now)
    response_count = models.PositiveIntegerField(_("responses"))
    duration_ms = models.PositiveIntegerField(_("time taken (ms)"), default=0)
    data = models.JSONField(_("summary"))
    # The request it answers: a task redelivered after its worker died makes no second one.
    request_id = models.CharField(
        _("request"), max_length=32, null=True, blank=True, unique=True, editable=False
    )

    class Meta:
        verbose_name = _("summary snapshot")
        verbose_name_plural = _("summary snapshots")
        ordering = ["-created_at", "-pk"]
        get_latest_by = ["created_at", "pk"]
        indexes = [models.Index(fields=["survey", "-created_at"], name="snapshot_latest_idx")]

    def __str__(self) -> str:
        return f"{self.survey} · {self.created_at:%Y-%m-%d %H:%M}"


class TallyCell(models.Model):
    """Derived data: how many submitted responses of one combination of groups (province,
    region, industry, division, size at submission) have one answer value.

    ``question_pk`` 0 with an empty ``value`` counts the responses themselves (``ids`` sums
    their ids, to check the cells against the responses); an empty ``value`` under a question
    counts the responses that answered it; ``o<option id>``, ``n<number>`` and ``d<YYYY-MM>``
    count chosen options, numbers and months. A number question with a minimum and a maximum
    is counted per band (``b1``…) and group, and per exact number only overall (empty groups).
    ``surveys.tally`` keeps it up to date when a response is submitted or changed, and rebuilds
    it when it does not match the responses.
    """

    survey = models.ForeignKey(
        Survey, verbose_name=_("survey"), on_delete=models.CASCADE, related_name="+"
    )
    question_pk = models.PositiveIntegerField(_("question"), default=0)
    value = models.CharField(_("value"), max_length=60, blank=True)
    province = models.CharField(_("province"), max_length=2, blank=True)
    region_group = models.CharField(_("region group"), max_length=20, blank=True)
    industry_section = models.CharField(_("industry section"), max_length=1, blank=True)
    industry_division = models.CharField(_("industry division"), max_length=100, blank=True)
    size_band = models.CharField(_("size"), max_length=10, blank=True)
    n = models.IntegerField(_("responses"), default=0)
    texts = models.IntegerField(_("with a text"), default=0)
    ids = models.BigIntegerField(_("sum of response ids"), default=0)

    class Meta:
        verbose_name = _("tally cell")
        verbose_name_plural = _("tally cells")
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "survey",
                    "question_pk",
                    "value",
                    "province",
                    "region_group",
                    "industry_section",
                    "industry_division",
                    "size_band",
                ],
                name="tally_cell_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.survey_id}/{self.question_pk}/{self.value}: {self.n}"
