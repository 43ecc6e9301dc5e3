"""The exact signature counts (``SignatureTally``), changed with each signature."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, F, Q

from ..models import (
    Initiative,
    Signature,
    SignatureTally,
)


def _tally_change(signature: Signature, *, confirmed: int, public: int) -> None:
    """Add to the counters of the signature's initiative, kind and province."""
    if not confirmed and not public:
        return
    tally, _created = SignatureTally.objects.get_or_create(
        initiative_id=signature.initiative_id,
        kind=signature.kind,
        province=signature.province,
    )
    SignatureTally.objects.filter(pk=tally.pk).update(
        confirmed=F("confirmed") + confirmed, public=F("public") + public
    )


def _count_in(signature: Signature, sign: int) -> None:
    """The signature starts (+1) or stops (-1) counting."""
    _tally_change(signature, confirmed=sign, public=sign if signature.show_name else 0)


@transaction.atomic
def tally_rebuild(*, initiative_id: int) -> int:
    """Recount an initiative's tally from its signatures (after bulk loads, or to check)."""
    Initiative.objects.select_for_update().get(pk=initiative_id)
    SignatureTally.objects.filter(initiative_id=initiative_id).delete()
    rows = (
        Signature.objects.filter(
            initiative_id=initiative_id, status=Signature.Status.CONFIRMED, is_hidden=False
        )
        .values("kind", "province")
        .annotate(confirmed=Count("pk"), public=Count("pk", filter=Q(show_name=True)))
    )
    tallies = [
        SignatureTally(
            initiative_id=initiative_id,
            kind=row["kind"],
            province=row["province"],
            confirmed=row["confirmed"],
            public=row["public"],
        )
        for row in rows
    ]
    SignatureTally.objects.bulk_create(tallies)
    return sum(t.confirmed for t in tallies)
