"""Turn a stored summary (snapshot JSON) into what the results pages show, in the current
language: labels, tables and SVG charts. No database access."""

from __future__ import annotations

from django.utils.translation import gettext as _

from cqa_portal.core.localize import in_english as _english
from cqa_portal.core.numbers import percent
from cqa_portal.core.reference import (
    INDUSTRY_NAMES_ZH,
    PROVINCE_NAMES_ZH,
    IndustrySection,
    Province,
    RegionGroup,
)
from members.models import MemberCompany

from . import charts, covid
from .summary import COMPLEMENTARY, DIMENSIONS, MIN_PUBLIC_GROUP

ORDERED_QUESTIONS = {covid.IMPACT_QUESTION}


def _text(item: dict, key: str = "text") -> str:
    if key == "text":
        return item.get("text_en") if _english() and item.get("text_en") else item.get("text", "")
    return item.get("label_en") if _english() and item.get("label_en") else item.get("label", "")


def dimension_label(dimension: str) -> str:
    return {
        "region": _("Region"),
        "province": _("Province"),
        "industry": _("Industry section"),
        "division": _("Industry (finer)"),
        "size": _("Company size"),
    }[dimension]


def group_label(dimension: str, group: str) -> str:
    if dimension == "region":
        try:
            return str(RegionGroup(group).label)
        except ValueError:
            return group
    if dimension == "province":
        if not _english() and group in PROVINCE_NAMES_ZH:
            return PROVINCE_NAMES_ZH[group]
        try:
            return str(Province(group).label)
        except ValueError:
            return group
    if dimension == "industry":
        if not _english() and group in INDUSTRY_NAMES_ZH:
            return f"{group} {INDUSTRY_NAMES_ZH[group]}"
        try:
            return f"{group} {IndustrySection(group).label}"
        except ValueError:
            return group
    if dimension == "size":
        try:
            return str(MemberCompany.SizeBand(group).label)
        except ValueError:
            return group
    return group


def _reference_order(dimension: str):
    """Groups in a fixed order (never by a figure, so the order reveals nothing)."""
    order = {
        "region": list(RegionGroup.values),
        "province": list(Province.values),
        "industry": list(IndustrySection.values),
        "size": list(MemberCompany.SizeBand.values),
    }.get(dimension, [])
    return lambda group: (order.index(group) if group in order else len(order), group)


def _fewer_than() -> str:
    return _("fewer than %(n)d") % {"n": MIN_PUBLIC_GROUP}


def hidden_note(reason: str) -> str:
    if reason == COMPLEMENTARY:
        return _("Not shown separately, so that smaller groups cannot be worked out")
    return _("Fewer than %(n)d companies, not shown separately") % {"n": MIN_PUBLIC_GROUP}


def _apart(data: dict, dimension: str) -> list[dict]:
    """The hidden groups of a dimension, listed apart from every table (fixed order)."""
    reasons = (data.get("hidden") or {}).get(dimension) or {}
    return [
        {"group": group, "label": group_label(dimension, group), "note": hidden_note(reason)}
        for group, reason in sorted(
            reasons.items(), key=lambda i: _reference_order(dimension)(i[0])
        )
    ]


def present(data: dict, *, public: bool) -> dict:
    """Everything the results template needs."""
    questions = [_present_question(q, data, public=public) for q in data.get("questions", [])]
    by_code = {q["code"]: q for q in questions}
    return {
        "totals": data["totals"],
        "too_few": data.get("too_few", False),
        "fewer_than": _fewer_than(),
        "key": _present_key(data.get("key") or {}, by_code, data),
        "questions": questions,
    }


def _values(question: dict) -> list[dict]:
    """What a question's answers are counted under: options, number bands or months."""
    if "options" in question:
        return [
            {"code": o["code"], "label": _text(o, "label"), "count": o["count"], "pct": o["pct"]}
            for o in question["options"]
        ]
    if question.get("bands"):
        return [
            {"code": b["code"], "label": b["label"], "count": b["count"], "pct": b["pct"]}
            for b in question["bands"]
        ]
    return [
        {"code": m["month"], "label": m["month"], "count": m["count"], "pct": m["pct"]}
        for m in question.get("months", [])
    ]


def _present_question(question: dict, data: dict, *, public: bool) -> dict:
    label = _text(question)
    shown = {
        "code": question["code"],
        "kind": question["kind"],
        "label": label,
        "answered": question["answered"],
        "required": question.get("required", False),
        "options": [],
        "bands": [],
        "months": [],
        "stats": {},
        "crosstabs": [],
    }
    if question.get("condition"):
        shown["condition"] = question["condition"]
    values = _values(question)
    if "options" in question:
        shown["options"] = values
        shown["other_texts"] = question.get("other_texts", 0)
        if question["kind"] == "multiple":
            ranked = sorted(values, key=lambda o: -o["count"])
            shown["ranked"] = ranked
            shown["chart"] = charts.bar_chart(ranked, title=label)
        else:
            shown["chart"] = charts.bar_chart(values, title=label)
    if "stats" in question:
        shown["stats"] = question["stats"]
    if question.get("bands"):
        shown["bands"] = values
        shown["chart"] = charts.bar_chart(values, title=label)
    if question.get("months"):
        shown["months"] = values
        shown["chart"] = charts.bar_chart(values, title=label)
    if "by" in question and values:
        ordered = question["code"] in ORDERED_QUESTIONS or question["kind"] != "single"
        shown["crosstabs"] = [
            _crosstab(question, values, dimension, data, ordered=ordered)
            for dimension in DIMENSIONS
            if question["by"].get(dimension) is not None and data["groups"].get(dimension)
        ]
    return shown


def _crosstab(question: dict, values: list[dict], dimension: str, data: dict, *, ordered):
    """One question by the groups of one dimension: shown groups in a fixed order, each with
    the companies that answered and per value the count and share; hidden groups apart."""
    sizes = data["groups"].get(dimension, {})
    answered_by = (question.get("answered_by") or {}).get(dimension) or {}
    series = [v["label"] for v in values]
    rows = []
    for group in sorted(sizes, key=_reference_order(dimension)):
        cells = question["by"][dimension].get(group, {})
        if sizes[group] is None or cells is None:
            continue
        # Snapshots made before version 2 have no answered_by: single choice, so the sum.
        base = answered_by.get(group) if answered_by else sum(cells.values())
        base = base or 0
        counted = [cells.get(v["code"], 0) for v in values]
        shares = [percent(n, base) if base else 0 for n in counted]
        rows.append(
            {
                "label": group_label(dimension, group),
                "responses": base,
                "counts": counted,
                "cells": shares,
                "pairs": list(zip(counted, shares, strict=True)),
            }
        )
    title = _("By %(dimension)s: %(question)s") % {
        "question": _text(question),
        "dimension": dimension_label(dimension).lower(),
    }
    # A stacked bar only where the shares add up to 100% and the groups are few.
    stacked = question["kind"] != "multiple" and dimension in ("region", "industry", "size")
    return {
        "dimension": dimension,
        "title": title,
        "series": series,
        "legend": charts.legend(series, ordered) if stacked else [],
        "rows": rows,
        "apart": _apart(data, dimension),
        "chart": charts.stacked_chart(rows, series=series, title=title, ordered=ordered)
        if stacked
        else "",
    }


def present_cross_tab(table: dict) -> dict:
    """A staff cross-tab (``summary.cross_tab``) as rows of (count, share of the row)."""
    columns = table["columns"]["values"]
    rows = []
    for value in table["rows"]["values"]:
        base = table["row_totals"].get(value["code"], 0)
        counts = [table["cells"].get(value["code"], {}).get(c["code"], 0) for c in columns]
        rows.append(
            {
                "label": _text(value, "label"),
                "total": base,
                "pairs": [(n, percent(n, base)) for n in counts],
            }
        )
    return {
        "row_question": _text(table["rows"]),
        "column_question": _text(table["columns"]),
        "columns": [_text(c, "label") for c in columns],
        "column_totals": [table["column_totals"].get(c["code"], 0) for c in columns],
        "rows": rows,
        "total": table["total"],
        "multiple": "multiple" in (table["rows"]["kind"], table["columns"]["kind"]),
    }


def _present_key(key: dict, by_code: dict, data: dict) -> dict:
    if not key:
        return {}
    shown = {
        "overall": key["overall"],
        "resumed": key["resumed"],
        "fully_among_resumed_pct": key["fully_among_resumed_pct"],
        "partly_among_resumed_pct": key["partly_among_resumed_pct"],
        "hubei": key.get("hubei"),
        "tables": [],
    }
    for dimension in DIMENSIONS:
        rows = []
        for row in key["tables"].get(dimension, []):
            rows.append({**row, "label": group_label(dimension, row["group"])})
        apart = _apart(data, dimension)
        if not rows and not apart:
            continue
        chart_rows = [
            {
                "label": r["label"],
                "cells": [
                    r["serious_pct"] or 0,
                    percent(r["affected"] - r["serious"], r["answered"]) or 0,
                    percent(r["answered"] - r["affected"], r["answered"]) or 0,
                ],
            }
            for r in rows
        ]
        series = [_("Moderately or severely"), _("Slightly"), _("Not affected")]
        title = _("Affected members by %(dimension)s (most affected first)") % {
            "dimension": dimension_label(dimension).lower()
        }
        shown["tables"].append(
            {
                "dimension": dimension,
                "label": dimension_label(dimension),
                "title": title,
                "rows": rows,
                "apart": apart,
                "legend": charts.legend(series, palette=charts.IMPACT),
                "chart": charts.stacked_chart(
                    chart_rows, series=series, title=title, palette=charts.IMPACT
                ),
            }
        )
    for code in (covid.AREAS_QUESTION, covid.NEEDS_QUESTION):
        question = by_code.get(code)
        if question and question.get("ranked"):
            shown[code] = question
    return shown
