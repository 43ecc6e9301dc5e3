"""The free live-course schedule: topics, series, lecturers, sessions, registrations and
recorded attendance."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cqa_portal.core import links
from cqa_portal.core.localize import in_english, localized
from cqa_portal.core.validators import validate_multi_line, validate_single_line

from . import conf


class Topic(models.Model):
    """A subject area, e.g. total quality management or quality tools."""

    name = models.CharField(
        _("topic name"), max_length=100, unique=True, validators=[validate_single_line]
    )
    name_en = models.CharField(
        _("name in English"), max_length=100, blank=True, validators=[validate_single_line]
    )
    slug = models.SlugField(_("short name in links"), max_length=60, unique=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return localized(self, "name")


class TopicNeed(models.Model):
    """A need members report in the survey (an option code of its needs question) that a topic
    answers: members whose company reported it see the topic's sessions first, and staff see
    the demand per topic."""

    class Need(models.TextChoices):
        TRAINING = "training", _("Training in quality-management tools and methods")
        POLICIES = "policies", _("Supportive government and industry policies")
        PUBLICITY = "publicity", _("Publicity for the company's anti-epidemic work")
        OTHER = "other", _("Other needs")

    topic = models.ForeignKey(
        Topic, verbose_name=_("topic"), on_delete=models.CASCADE, related_name="needs"
    )
    need_code = models.CharField(
        _("survey need"),
        max_length=50,
        choices=Need.choices,
        help_text=_("The option of the survey's needs question that this topic answers."),
    )

    class Meta:
        verbose_name = _("need the topic answers")
        verbose_name_plural = _("needs the topic answers")
        ordering = ["topic", "need_code"]
        constraints = [
            models.UniqueConstraint(fields=["topic", "need_code"], name="courses_topic_need_once")
        ]

    def __str__(self) -> str:
        return f"{self.topic} · {self.get_need_code_display()}"


class Series(models.Model):
    """A run of sessions taught as one course, e.g. a five-part introduction to quality tools."""

    name = models.CharField(
        _("series name"), max_length=150, unique=True, validators=[validate_single_line]
    )
    name_en = models.CharField(
        _("name in English"), max_length=150, blank=True, validators=[validate_single_line]
    )
    slug = models.SlugField(_("short name in links"), max_length=80, unique=True)
    topic = models.ForeignKey(
        Topic,
        verbose_name=_("topic"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="series",
    )
    description = models.TextField(_("description"), blank=True, validators=[validate_multi_line])

    class Meta:
        verbose_name = _("series")
        verbose_name_plural = _("series")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return localized(self, "name")


class Lecturer(models.Model):
    name = models.CharField(_("full name"), max_length=100, validators=[validate_single_line])
    title = models.CharField(
        _("title"),
        max_length=150,
        blank=True,
        help_text=_("E.g. senior engineer, professor."),
        validators=[validate_single_line],
    )
    organisation = models.CharField(
        _("organisation"), max_length=200, blank=True, validators=[validate_single_line]
    )
    bio = models.TextField(_("short biography"), blank=True, validators=[validate_multi_line])

    class Meta:
        verbose_name = _("lecturer")
        verbose_name_plural = _("lecturers")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}（{self.organisation}）" if self.organisation else self.name


class Session(models.Model):
    """One live course session. Times are stored in UTC and shown in Beijing time."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        LIVE = "live", _("Live now")
        ENDED = "ended", _("Ended")
        CANCELLED = "cancelled", _("Cancelled")

    uid = models.UUIDField(
        _("calendar identifier"),
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text=_("Stable identifier of the session in calendar files."),
    )
    title = models.CharField(_("title"), max_length=200, validators=[validate_single_line])
    title_en = models.CharField(
        _("title in English"), max_length=200, blank=True, validators=[validate_single_line]
    )
    topic = models.ForeignKey(
        Topic, verbose_name=_("topic"), on_delete=models.PROTECT, related_name="sessions"
    )
    series = models.ForeignKey(
        Series,
        verbose_name=_("series"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sessions",
    )
    lecturers = models.ManyToManyField(
        Lecturer, verbose_name=_("lecturers"), blank=True, related_name="sessions"
    )
    starts_at = models.DateTimeField(_("starts at"), db_index=True)
    ends_at = models.DateTimeField(_("ends at"))
    platform = models.CharField(
        _("live platform"),
        max_length=100,
        help_text=_("E.g. Tencent Meeting, DingTalk."),
        validators=[validate_single_line],
    )
    platform_en = models.CharField(
        _("live platform in English"),
        max_length=100,
        blank=True,
        help_text=_("Shown to English visitors; the Chinese name when empty."),
        validators=[validate_single_line],
    )
    join_url = models.URLField(
        _("join link"),
        max_length=500,
        blank=True,
        help_text=_("Sent to confirmed registrants only; never shown publicly."),
    )
    replay_url = models.URLField(
        _("replay link"), max_length=500, blank=True, help_text=_("Shown after the session.")
    )
    capacity = models.PositiveIntegerField(
        _("capacity"),
        null=True,
        blank=True,
        help_text=_("Number of seats. Leave empty for unlimited."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED
    )
    description = models.TextField(_("description"), blank=True, validators=[validate_multi_line])
    description_en = models.TextField(
        _("description in English"),
        blank=True,
        help_text=_("Shown to English visitors; the Chinese description when empty."),
        validators=[validate_multi_line],
    )
    lecturers_en = models.CharField(
        _("lecturers in English"),
        max_length=300,
        blank=True,
        help_text=_(
            "Names and organisations as English visitors see them, e.g. "
            "“Zhang Wei (China Association for Quality)”; the lecturer list when empty."
        ),
        validators=[validate_single_line],
    )
    sequence = models.PositiveIntegerField(
        _("revision"),
        default=0,
        editable=False,
        help_text=_("Raised when the time changes or the session is cancelled."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("course session")
        verbose_name_plural = _("course sessions")
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="courses_session_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        local = timezone.localtime(self.starts_at)
        return f"{local:%Y-%m-%d %H:%M} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("courses:session", args=[self.pk])

    @property
    def label(self) -> str:
        return localized(self, "title")

    @property
    def display_description(self) -> str:
        return localized(self, "description")

    @property
    def display_platform(self) -> str:
        return localized(self, "platform")

    @property
    def english_lecturers(self) -> str:
        """The English lecturer line for an English visitor, if there is one (else the
        lecturer list is shown: ``lecturers_of`` in the template tags)."""
        return self.lecturers_en if in_english() else ""

    @property
    def is_cancelled(self) -> bool:
        return self.status == self.Status.CANCELLED

    def is_past(self, now=None) -> bool:
        now = now or timezone.now()
        return self.status == self.Status.ENDED or self.ends_at <= now

    def is_open(self, now=None) -> bool:
        """Registration is open until the session ends, unless it is cancelled or ended."""
        return not self.is_cancelled and not self.is_past(now)

    @property
    def seats_left(self) -> int | None:
        """Free seats (None = unlimited); needs the ``confirmed_count`` annotation."""
        if self.capacity is None:
            return None
        return max(self.capacity - getattr(self, "confirmed_count", 0), 0)

    def display_status(self, now=None) -> str:
        """The status a visitor sees: the stored one, corrected by the clock."""
        now = now or timezone.now()
        if self.is_cancelled:
            return self.Status.CANCELLED
        if self.is_past(now):
            return self.Status.ENDED
        if self.status == self.Status.LIVE or self.starts_at <= now:
            return self.Status.LIVE
        return self.Status.SCHEDULED


class Registration(models.Model):
    """One person's registration for one session (a logged-in user or a visitor)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting email confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        WAITING = "waiting", _("On the waiting list")
        CANCELLED = "cancelled", _("Cancelled")

    session = models.ForeignKey(
        Session,
        verbose_name=_("course session"),
        on_delete=models.PROTECT,
        related_name="registrations",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="course_registrations",
    )
    name = models.CharField(_("full name"), max_length=150, validators=[validate_single_line])
    email = models.EmailField(_("email"))
    organisation = models.CharField(
        _("organisation"), max_length=200, blank=True, validators=[validate_single_line]
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    position = models.PositiveIntegerField(
        _("queue position"),
        null=True,
        blank=True,
        help_text=_("Order of joining the queue; the waiting list is served in this order."),
    )
    language = models.CharField(
        _("language"), max_length=10, default="zh-hans", validators=[validate_single_line]
    )
    revision = models.PositiveIntegerField(_("revision"), default=0, editable=False)
    # The random part of the registration's signed links (cqa_portal.core.links): a new key
    # revokes them.
    link_key = models.CharField(_("link key"), max_length=32, default=links.new_key, editable=False)
    privacy_consent_at = models.DateTimeField(
        _("privacy notice accepted at"), null=True, blank=True
    )
    privacy_consent_version = models.CharField(
        _("privacy notice version accepted"), max_length=20, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        ordering = ["session", "position", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "email"], name="courses_registration_one_per_email"
            ),
            models.UniqueConstraint(
                fields=["session", "user"],
                condition=Q(user__isnull=False),
                name="courses_registration_one_per_user",
            ),
        ]
        indexes = [
            models.Index(fields=["session", "status", "position"], name="courses_reg_queue_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class AttendanceRecord(models.Model):
    """Recorded attendance of a session, imported from the live platform's export.

    Either one row with the participant count, or one row per attendee email (counting one
    participant each and linked to the matching registration when there is one).
    """

    session = models.ForeignKey(
        Session,
        verbose_name=_("course session"),
        on_delete=models.CASCADE,
        related_name="attendance_records",
    )
    email = models.EmailField(_("attendee email"), blank=True)
    participants = models.PositiveIntegerField(_("participants"), default=1)
    registration = models.ForeignKey(
        Registration,
        verbose_name=_("registration"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="attendance_records",
    )
    imported_at = models.DateTimeField(_("imported at"), auto_now_add=True)

    class Meta:
        verbose_name = _("attendance record")
        verbose_name_plural = _("attendance records")
        ordering = ["session", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "email"],
                condition=~Q(email=""),
                name="courses_attendance_one_per_email",
            ),
        ]

    def __str__(self) -> str:
        return self.email or str(self.participants)


# The signed links in course mails (cqa_portal.core.links). A visitor's confirmation link
# expires (COURSES_CONFIRM_MAX_AGE); the registration link (see it, cancel it, download its
# calendar entry) is the same in every mail and works until the session ends (then there is
# nothing left to cancel).
CONFIRM_LINK = links.LinkPurpose(
    salt="courses.registration.confirm",
    model=Registration,
    max_age=lambda: conf.get().confirm_max_age,
    select_related=("session",),
)
MANAGE_LINK = links.LinkPurpose(
    salt="courses.registration.manage",
    model=Registration,
    issued_field="created_at",
    expires_at=lambda registration: registration.session.ends_at,
    select_related=("session",),
)
