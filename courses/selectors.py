"""Reads of the courses app: every page gets its rows, counts and totals in a fixed number of
queries, however many sessions there are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import AttendanceRecord, Lecturer, Registration, Series, Session, Topic


def _participants_subquery():
    return Subquery(
        AttendanceRecord.objects.filter(session=OuterRef("pk"))
        .order_by()
        .values("session")
        .annotate(total=Sum("participants"))
        .values("total"),
        output_field=IntegerField(),
    )


def with_counts(queryset: QuerySet[Session]) -> QuerySet[Session]:
    """Annotate confirmed and waiting registrations and recorded participants (no N+1)."""
    return queryset.annotate(
        confirmed_count=Count(
            "registrations", filter=Q(registrations__status=Registration.Status.CONFIRMED)
        ),
        waiting_count=Count(
            "registrations", filter=Q(registrations__status=Registration.Status.WAITING)
        ),
        participants=_participants_subquery(),
    )


def _listing(queryset: QuerySet[Session]) -> QuerySet[Session]:
    return with_counts(
        queryset.select_related("topic", "series").prefetch_related(
            Prefetch("lecturers", queryset=Lecturer.objects.order_by("name"))
        )
    )


@dataclass
class ScheduleFilters:
    topic: Topic | None = None
    series: Series | None = None
    month: datetime | None = None  # first instant of the month, Beijing time

    def apply(self, queryset: QuerySet[Session]) -> QuerySet[Session]:
        if self.topic:
            queryset = queryset.filter(topic=self.topic)
        if self.series:
            queryset = queryset.filter(series=self.series)
        if self.month:
            start = self.month
            end = (
                start.replace(year=start.year + 1, month=1)
                if start.month == 12
                else start.replace(month=start.month + 1)
            )
            queryset = queryset.filter(starts_at__gte=start, starts_at__lt=end)
        return queryset


def upcoming_sessions(*, filters: ScheduleFilters, now: datetime) -> QuerySet[Session]:
    """Sessions not over yet, soonest first (cancelled ones included, marked as such)."""
    return _listing(
        filters.apply(Session.objects.filter(ends_at__gt=now).exclude(status=Session.Status.ENDED))
    ).order_by("starts_at", "pk")


def past_sessions(*, filters: ScheduleFilters, now: datetime) -> QuerySet[Session]:
    """Sessions held, latest first (with replay links and participants)."""
    return _listing(
        filters.apply(
            Session.objects.filter(Q(ends_at__lte=now) | Q(status=Session.Status.ENDED)).exclude(
                status=Session.Status.CANCELLED
            )
        )
    ).order_by("-starts_at", "-pk")


def held_q(now: datetime) -> Q:
    """Sessions held by ``now``: over (or marked ended) and not cancelled."""
    return (Q(ends_at__lte=now) | Q(status=Session.Status.ENDED)) & ~Q(
        status=Session.Status.CANCELLED
    )


def upcoming_q(now: datetime) -> Q:
    """Sessions still to come or running at ``now``, not cancelled."""
    return Q(ends_at__gt=now) & ~Q(status__in=[Session.Status.ENDED, Session.Status.CANCELLED])


def schedule_totals(*, now: datetime | None = None) -> dict:
    """Sessions held and participant-times recorded (the banner)."""
    now = now or timezone.now()
    held = Session.objects.filter(held_q(now)).count()
    participants = AttendanceRecord.objects.aggregate(total=Coalesce(Sum("participants"), 0))[
        "total"
    ]
    return {"held": held, "participants": participants}


def filter_choices() -> dict:
    """Topics, series and months that have sessions, for the filter form."""
    return {
        "topics": list(Topic.objects.all()),
        "series": list(Series.objects.all()),
        "months": list(
            Session.objects.datetimes(
                "starts_at", "month", order="DESC", tzinfo=timezone.get_current_timezone()
            )
        ),
    }


def session_for_page(*, pk: int) -> Session:
    return _listing(Session.objects.filter(pk=pk)).get()


def registrations_of_user(*, user, session_ids) -> dict[int, Registration]:
    """The user's current registrations among the given sessions, by session id."""
    if not getattr(user, "is_authenticated", False):
        return {}
    return {
        r.session_id: r
        for r in Registration.objects.filter(user=user, session_id__in=list(session_ids)).exclude(
            status=Registration.Status.CANCELLED
        )
    }


def registration_for_page(*, pk: int) -> Registration | None:
    return (
        Registration.objects.select_related("session", "session__topic", "session__series")
        .filter(pk=pk)
        .first()
    )


def registrations_for_users(*, user_ids) -> QuerySet[Registration]:
    """Course registrations of the given users (the member area lists its company's), newest
    session first, with their sessions."""
    return (
        Registration.objects.filter(user_id__in=list(user_ids))
        .select_related("session", "session__topic", "session__series", "user")
        .order_by("-session__starts_at", "pk")
    )


def calendar_sessions(*, topic: Topic | None = None, series: Series | None = None):
    queryset = Session.objects.select_related("topic", "series").prefetch_related(
        Prefetch("lecturers", queryset=Lecturer.objects.order_by("name"))
    )
    if topic:
        queryset = queryset.filter(topic=topic)
    if series:
        queryset = queryset.filter(series=series)
    return queryset.order_by("starts_at", "pk")


def registrants(*, session_ids) -> QuerySet[Registration]:
    """Registrations of the given sessions for the export, queue order."""
    return (
        Registration.objects.filter(session_id__in=list(session_ids))
        .select_related("session", "user")
        .annotate(attended=Count("attendance_records"))
        .order_by("session__starts_at", "session_id", "position", "created_at", "pk")
    )
