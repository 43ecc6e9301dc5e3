"""Reads for the public pages: a fixed number of queries whatever the number of signatures.

Counts come from ``SignatureTally`` (at most kinds × provinces rows per initiative), never from
counting the signature table; the wall pages through an index on confirmed signatures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import Prefetch
from django.utils.functional import cached_property

from cqa_portal.core.reference import Province

from . import conf
from .models import Alliance, CoSignature, OpenLetter, Signature, SignatureKind, SignatureTally

WALL_FIELDS = ["pk", "kind", "name", "organisation", "province", "confirmed_at"]


def _letters():
    return (
        OpenLetter.objects.published()
        .select_related("initiative")
        .prefetch_related("commitments", "initiative__items")
    )


def current_letter() -> OpenLetter | None:
    """The open letter published last."""
    return _letters().order_by("-published_at", "-pk").first()


def current_letter_id() -> int | None:
    return (
        OpenLetter.objects.published()
        .order_by("-published_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )


def letter_by_slug(slug: str) -> OpenLetter | None:
    return _letters().filter(slug=slug).first()


def other_letters(*, exclude_pk: int | None) -> list[OpenLetter]:
    return list(
        OpenLetter.objects.published()
        .exclude(pk=exclude_pk)
        .only("slug", "title", "title_en", "date", "published_at")
        .order_by("-published_at", "-pk")
    )


@dataclass
class TallySummary:
    """Confirmed, visible signatures of one initiative by kind and by province."""

    rows: list[dict] = field(default_factory=list)

    def _sum(self, column: str, *, kind: str = "", province: str = "") -> int:
        return sum(
            row[column]
            for row in self.rows
            if (not kind or row["kind"] == kind) and (not province or row["province"] == province)
        )

    @property
    def enterprises(self) -> int:
        return self._sum("confirmed", kind=SignatureKind.ENTERPRISE)

    @property
    def individuals(self) -> int:
        return self._sum("confirmed", kind=SignatureKind.INDIVIDUAL)

    @property
    def total(self) -> int:
        return self._sum("confirmed")

    def public(self, *, kind: str = "", province: str = "") -> int:
        return self._sum("public", kind=kind, province=province)

    @cached_property
    def by_province(self) -> list[dict]:
        """[{code, label, enterprises, individuals, total}] largest first, empty ones left out."""
        labels = dict(Province.choices)
        totals: dict[str, dict] = {}
        for row in self.rows:
            if not row["confirmed"]:
                continue
            entry = totals.setdefault(
                row["province"],
                {"code": row["province"], "label": labels.get(row["province"], row["province"]),
                 "enterprises": 0, "individuals": 0, "total": 0},
            )  # fmt: skip
            key = "enterprises" if row["kind"] == SignatureKind.ENTERPRISE else "individuals"
            entry[key] += row["confirmed"]
            entry["total"] += row["confirmed"]
        return sorted(totals.values(), key=lambda e: (-e["total"], e["code"]))


def tally_summary(*, initiative_id: int | None) -> TallySummary:
    """One query: the initiative's tally rows (at most 2 × 34)."""
    if initiative_id is None:
        return TallySummary()
    return TallySummary(
        rows=list(
            SignatureTally.objects.filter(initiative_id=initiative_id).values(
                "kind", "province", "confirmed", "public"
            )
        )
    )


def public_signatures(*, initiative_id: int, kind: str = "", province: str = ""):
    """Confirmed, not hidden, opted-in signatures, newest first (served by pledges_wall_idx)."""
    queryset = Signature.objects.filter(
        initiative_id=initiative_id,
        status=Signature.Status.CONFIRMED,
        is_hidden=False,
        show_name=True,
    )
    if kind:
        queryset = queryset.filter(kind=kind)
    if province:
        queryset = queryset.filter(province=province)
    return queryset.only(*WALL_FIELDS).order_by("-confirmed_at", "-pk")


def latest_public_signatures(*, initiative_id: int, limit: int = 10) -> list[Signature]:
    return list(public_signatures(initiative_id=initiative_id)[:limit])


class KnownCountPaginator(Paginator):
    """A paginator told its total (from the tally) instead of running COUNT(*)."""

    def __init__(self, object_list, per_page, *, count: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


def wall_page(
    *, initiative_id: int, summary: TallySummary, kind: str, province: str, page_number
) -> Page:
    paginator = KnownCountPaginator(
        public_signatures(initiative_id=initiative_id, kind=kind, province=province),
        conf.get().wall_page_size,
        count=summary.public(kind=kind, province=province),
    )
    page = paginator.get_page(page_number)
    page.object_list = list(page.object_list)
    return page


def current_alliance() -> Alliance | None:
    approved = CoSignature.objects.filter(status=CoSignature.Status.APPROVED).order_by(
        "decided_at", "pk"
    )
    return (
        Alliance.objects.published()
        .select_related("initiative")
        .prefetch_related(
            "members",
            "initiative__items",
            Prefetch("cosignatures", queryset=approved, to_attr="approved_cosignatures"),
        )
        .order_by("-published_at", "-pk")
        .first()
    )
