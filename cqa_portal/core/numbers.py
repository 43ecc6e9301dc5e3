"""Percentages and rounding for every page and export: half up on exact decimals.

Python's ``round`` rounds floats half to even (13/16 = 81.25 → 81.2), and a float such as 0.125
is not always stored exactly; a reader, or Excel, expects 81.3. ``percent`` divides with
``Decimal`` (exact for every fraction a survey produces at this precision) and rounds half up.
Results are floats so they go into JSON snapshots and spreadsheets unchanged (81.3 prints as
81.3). Templates use the ``percent`` / ``half_up`` filters of ``portal_numbers``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def half_up(value, places: int = 1) -> float | None:
    """``value`` rounded half up to ``places`` decimals (``None`` stays ``None``).

    A float goes through its shortest decimal form (``repr``), so 81.25 is 81.25, not
    81.2499999…: the rounding is that of the number as written."""
    if value is None:
        return None
    exact = (
        value
        if isinstance(value, Decimal)
        else Decimal(repr(value) if isinstance(value, float) else value)
    )
    return float(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def exact_percent(part, whole, places: int = 1) -> Decimal | None:
    """``part`` as a percentage of ``whole``, rounded half up, as a ``Decimal`` (for figures
    kept as decimals, e.g. beside money); ``None`` when ``whole`` is 0."""
    if not whole:
        return None
    exact = Decimal(part) * 100 / Decimal(whole)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def percent(part, whole, places: int = 1) -> float | None:
    """``part`` as a percentage of ``whole``, rounded half up; ``None`` when ``whole`` is 0."""
    exact = exact_percent(part, whole, places)
    return None if exact is None else float(exact)


def text(value, places: int = 1) -> str:
    """A number for display, rounded half up with exactly ``places`` decimals ("–" if none)."""
    if value is None or value == "":
        return "–"
    exact = (
        value
        if isinstance(value, Decimal)
        else Decimal(repr(value) if isinstance(value, float) else value)
    )
    return str(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
