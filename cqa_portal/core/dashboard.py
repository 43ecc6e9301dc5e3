"""The programme dashboard on the admin's front page: the programme at a glance for staff.

``programme_dashboard`` reads every figure with aggregates, in a fixed number of queries
whatever the data size (tests/core/test_dashboard.py). Each figure carries ``count`` (how many
rows its link lists) and the admin change list it counts, filtered with query-string filters
that change list supports, so a click shows exactly the rows behind the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Count, DecimalField, F, Max, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import numbers
from .reference import RegionGroup, region_group_of
from .selectors import outbox_backlog

ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=14, decimal_places=2))


@dataclass
class Figure:
    label: str
    count: int
    url: str
    amount: Decimal | int | None = None  # a sum over the rows listed (CNY, participant-times)
    amount_label: str = ""
    rate: Decimal | None = None  # a percentage (response rate)
    note: str = ""
    linked: bool = True  # False for a staff member who may not view that list

    @property
    def permission(self) -> str:
        """The permission to view the change list the figure links to."""
        app_label, model = self.url.split("/")[2:4]
        return f"{app_label}.view_{model}"


def _changelist(model_label: str, **params) -> str:
    url = reverse(f"admin:{model_label.replace('.', '_')}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _sum(field, condition=None):
    return Coalesce(Sum(field, filter=condition), ZERO)


_rate = numbers.exact_percent  # half up on the exact fraction (not the context's half even)


def _members() -> list[Figure]:
    from members.models import MemberCompany, MembershipApplication

    status = MemberCompany.Status
    row = MemberCompany.objects.aggregate(
        active=Count("pk", filter=Q(status=status.ACTIVE)),
        lapsed=Count("pk", filter=Q(status=status.LAPSED)),
    )
    waiting = MembershipApplication.objects.filter(
        status=MembershipApplication.Status.PENDING
    ).count()
    return [
        Figure(
            _("Active members"),
            row["active"],
            _changelist("members.membercompany", status__exact=status.ACTIVE),
        ),
        Figure(
            _("Lapsed members"),
            row["lapsed"],
            _changelist("members.membercompany", status__exact=status.LAPSED),
        ),
        Figure(
            _("Applications waiting"),
            waiting,
            _changelist(
                "members.membershipapplication",
                status__exact=MembershipApplication.Status.PENDING,
            ),
        ),
    ]


def _fee_year(current: int) -> int:
    """The current year, or the latest earlier year with fees if none are generated for it
    yet (early in a year, or in the demo of 2020)."""
    from members.models import MembershipFee

    latest = MembershipFee.objects.filter(year__lte=current).aggregate(year=Max("year"))["year"]
    return latest or current


def _fees(year: int) -> list[Figure]:
    from members.models import MembershipFee

    status = MembershipFee.Status
    outstanding = F("amount_due") - F("relief_amount") - F("amount_paid")
    is_due, is_paid, is_overdue = (Q(status=s) for s in (status.DUE, status.PAID, status.OVERDUE))
    relief = Q(relief_amount__gt=0)
    row = MembershipFee.objects.filter(year=year).aggregate(
        billed=Count("pk"),
        billed_amount=_sum("amount_due"),
        due=Count("pk", filter=is_due),
        due_amount=_sum(outstanding, is_due),
        paid=Count("pk", filter=is_paid),
        paid_amount=_sum("amount_paid", is_paid),
        overdue=Count("pk", filter=is_overdue),
        overdue_amount=_sum(outstanding, is_overdue),
        relief=Count("pk", filter=relief),
        relief_amount=_sum("relief_amount", relief),
    )
    fees = "members.membershipfee"
    cny = _("CNY")
    return [
        Figure(
            _("Fees billed"),
            row["billed"],
            _changelist(fees, year__exact=year),
            row["billed_amount"],
            cny,
        ),
        Figure(
            _("Still due"),
            row["due"],
            _changelist(fees, year__exact=year, status__exact=status.DUE),
            row["due_amount"],
            cny,
        ),
        Figure(
            _("Paid"),
            row["paid"],
            _changelist(fees, year__exact=year, status__exact=status.PAID),
            row["paid_amount"],
            cny,
        ),
        Figure(
            _("Overdue"),
            row["overdue"],
            _changelist(fees, year__exact=year, status__exact=status.OVERDUE),
            row["overdue_amount"],
            cny,
        ),
        Figure(
            _("Relief granted"),
            row["relief"],
            _changelist(fees, year__exact=year, relief_amount__gt=0),
            row["relief_amount"],
            cny,
        ),
    ]


def _relief() -> list[Figure]:
    from members.models import ReliefRequest

    status = ReliefRequest.Status
    decided = (*ReliefRequest.GRANTED_STATUSES, status.REJECTED)
    waiting, granted = (
        Q(status__in=ReliefRequest.PENDING_STATUSES),
        Q(status__in=ReliefRequest.GRANTED_STATUSES),
    )
    row = ReliefRequest.objects.aggregate(
        waiting=Count("pk", filter=waiting),
        asked=_sum("requested_amount", waiting),
        decided=Count("pk", filter=Q(status__in=decided)),
        granted=Count("pk", filter=granted),
        granted_amount=_sum("granted_amount", granted),
    )
    requests = "members.reliefrequest"
    return [
        Figure(
            _("Waiting for a decision"),
            row["waiting"],
            _changelist(requests, queue="pending"),
            row["asked"],
            _("CNY of reductions asked"),
        ),
        Figure(
            _("Decided"),
            row["decided"],
            _changelist(requests, status__in=",".join(decided)),
        ),
        Figure(
            _("Granted"),
            row["granted"],
            _changelist(requests, status__in=",".join(ReliefRequest.GRANTED_STATUSES)),
            row["granted_amount"],
            _("CNY"),
        ),
    ]


def _survey() -> dict | None:
    from members.models import MemberCompany
    from surveys.models import Response, SummarySnapshot, Survey

    survey = Survey.objects.exclude(status=Survey.Status.DRAFT).order_by("-opens_at", "pk").first()
    if survey is None:
        return None
    by_group = dict(
        Response.objects.filter(survey=survey, status=Response.Status.SUBMITTED)
        .values_list("region_group")
        .annotate(n=Count("pk"))
        .order_by()
    )
    members_by_group: dict[str, int] = {}
    for province, n in (
        MemberCompany.objects.filter(status=MemberCompany.Status.ACTIVE)
        .values_list("province")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        group = region_group_of(province)
        members_by_group[group] = members_by_group.get(group, 0) + n
    snapshots = SummarySnapshot.objects.filter(survey=survey).aggregate(
        count=Count("pk"), last=Max("created_at")
    )
    responses = "surveys.response"
    base = {"survey__id__exact": survey.pk, "status__exact": Response.Status.SUBMITTED}
    total = sum(by_group.values())
    groups = [
        Figure(
            label,
            by_group.get(group, 0),
            _changelist(responses, **base, region_group__exact=group),
            rate=_rate(by_group.get(group, 0), members_by_group.get(group, 0)),
            note=str(members_by_group.get(group, 0)),
        )
        for group, label in RegionGroup.choices
        if by_group.get(group) or members_by_group.get(group)
    ]
    return {
        "survey": survey,
        "figures": [
            Figure(
                _("Responses submitted"),
                total,
                _changelist(responses, **base),
                rate=_rate(total, sum(members_by_group.values())),
                note=str(sum(members_by_group.values())),
            ),
            Figure(
                _("Summary snapshots"),
                snapshots["count"],
                _changelist("surveys.summarysnapshot", survey__id__exact=survey.pk),
            ),
        ],
        "groups": groups,
        "last_snapshot_at": snapshots["last"],
    }


def _courses(now: datetime) -> list[Figure]:
    from courses.models import AttendanceRecord, Registration, Session
    from courses.selectors import held_q, upcoming_q

    sessions = Session.objects.aggregate(
        held=Count("pk", filter=held_q(now)), upcoming=Count("pk", filter=upcoming_q(now))
    )
    status = Registration.Status
    registrations = Registration.objects.aggregate(
        confirmed=Count("pk", filter=Q(status=status.CONFIRMED)),
        waiting=Count("pk", filter=Q(status=status.WAITING)),
    )
    attendance = AttendanceRecord.objects.aggregate(
        records=Count("pk"), participants=Coalesce(Sum("participants"), 0)
    )
    return [
        Figure(_("Sessions held"), sessions["held"], _changelist("courses.session", when="held")),
        Figure(
            _("Sessions upcoming"),
            sessions["upcoming"],
            _changelist("courses.session", when="upcoming"),
        ),
        Figure(
            _("Registrations confirmed"),
            registrations["confirmed"],
            _changelist("courses.registration", status__exact=status.CONFIRMED),
        ),
        Figure(
            _("On waiting lists"),
            registrations["waiting"],
            _changelist("courses.registration", status__exact=status.WAITING),
        ),
        Figure(
            _("Attendance records"),
            attendance["records"],
            _changelist("courses.attendancerecord"),
            attendance["participants"],
            _("participant-times"),
        ),
    ]


def _signatures() -> list[Figure]:
    from pledges.models import CoSignature, Signature, SignatureKind

    shown = Q(status=Signature.Status.CONFIRMED, is_hidden=False)
    row = Signature.objects.aggregate(
        **{kind: Count("pk", filter=shown & Q(kind=kind)) for kind in SignatureKind.values},
        moderation=Count("pk", filter=Signature.AWAITING_MODERATION),
    )
    co = CoSignature.objects.aggregate(
        approved=Count("pk", filter=Q(status=CoSignature.Status.APPROVED)),
        pending=Count("pk", filter=Q(status=CoSignature.Status.PENDING)),
    )
    signatures = "pledges.signature"
    confirmed = {"status__exact": Signature.Status.CONFIRMED, "is_hidden__exact": 0}
    return [
        *(
            Figure(
                _("Confirmed: %(kind)s") % {"kind": label},
                row[kind],
                _changelist(signatures, **confirmed, kind__exact=kind),
            )
            for kind, label in SignatureKind.choices
        ),
        Figure(
            _("Awaiting moderation (credit code to check)"),
            row["moderation"],
            _changelist(signatures, **confirmed, uscc_needs_review__exact=1),
        ),
        Figure(
            _("Co-signatures approved"),
            co["approved"],
            _changelist("pledges.cosignature", status__exact=CoSignature.Status.APPROVED),
        ),
        Figure(
            _("Co-signatures awaiting review"),
            co["pending"],
            _changelist("pledges.cosignature", status__exact=CoSignature.Status.PENDING),
        ),
    ]


def _mail(now: datetime) -> dict:
    from .models import OutboxMessage

    backlog = outbox_backlog(now=now)
    return {
        "figures": [
            Figure(
                _("Waiting to be sent"),
                backlog["pending"],
                _changelist("core.outboxmessage", status__exact=OutboxMessage.Status.PENDING),
            ),
            Figure(
                _("Failed"),
                backlog["failed"],
                _changelist("core.outboxmessage", status__exact=OutboxMessage.Status.FAILED),
            ),
        ],
        "oldest_pending_age": backlog["oldest_pending_age"],
    }


def figures(dashboard: dict) -> list[Figure]:
    """Every figure of a dashboard, in page order."""
    survey = dashboard["survey"] or {"figures": [], "groups": []}
    return [
        *dashboard["members"],
        *dashboard["fees"],
        *dashboard["relief"],
        *survey["figures"],
        *survey["groups"],
        *dashboard["courses"],
        *dashboard["signatures"],
        *dashboard["mail"]["figures"],
    ]


def programme_dashboard(*, now: datetime | None = None, user=None) -> dict:
    """Every figure of the staff dashboard (a fixed number of queries). With ``user``, figures
    whose list that user may not view are shown without their link."""
    now = now or timezone.now()
    year = _fee_year(timezone.localtime(now).year)
    dashboard = {
        "now": now,
        "year": year,
        "members": _members(),
        "fees": _fees(year),
        "relief": _relief(),
        "survey": _survey(),
        "courses": _courses(now),
        "signatures": _signatures(),
        "mail": _mail(now),
    }
    if user is not None:
        for figure in figures(dashboard):
            figure.linked = user.has_perm(figure.permission)
    return dashboard
