"""Turn a stored summary (snapshot JSON) into what the results pages show, in the current
language: labels, tables and SVG charts. No database access."""

from __future__ import annotations

from django.utils.translation import gettext as _

from cqa_portal.core.localize import in_english as _english
from cqa_portal.core.reference import INDUSTRY_NAMES_ZH, IndustrySection, RegionGroup

from . import charts, covid
from .summary import DIMENSIONS

ORDERED_QUESTIONS = {covid.IMPACT_QUESTION}


def _text(item: dict, key: str = "text") -> str:
    if key == "text":
        return item.get("text_en") if _english() and item.get("text_en") else item.get("text", "")
    return item.get("label_en") if _english() and item.get("label_en") else item.get("label", "")


def dimension_label(dimension: str) -> str:
    return {
        "region": _("Region"),
        "industry": _("Industry section"),
        "division": _("Industry (finer)"),
    }[dimension]


def group_label(dimension: str, group: str) -> str:
    if dimension == "region":
        try:
            return str(RegionGroup(group).label)
        except ValueError:
            return group
    if dimension == "industry":
        if not _english() and group in INDUSTRY_NAMES_ZH:
            return f"{group} {INDUSTRY_NAMES_ZH[group]}"
        try:
            return f"{group} {IndustrySection(group).label}"
        except ValueError:
            return group
    return group


def _fewer_than() -> str:
    return _("fewer than %(n)d") % {"n": 5}


def present(data: dict, *, public: bool) -> dict:
    """Everything the results template needs."""
    questions = [_present_question(q, data, public=public) for q in data.get("questions", [])]
    by_code = {q["code"]: q for q in questions}
    return {
        "totals": data["totals"],
        "too_few": data.get("too_few", False),
        "fewer_than": _fewer_than(),
        "key": _present_key(data.get("key") or {}, by_code),
        "questions": questions,
    }


def _present_question(question: dict, data: dict, *, public: bool) -> dict:
    label = _text(question)
    shown = {
        "code": question["code"],
        "kind": question["kind"],
        "label": label,
        "answered": question["answered"],
        "required": question.get("required", False),
    }
    if question.get("condition"):
        shown["condition"] = question["condition"]
    if "options" in question:
        options = [
            {"code": o["code"], "label": _text(o, "label"), "count": o["count"], "pct": o["pct"]}
            for o in question["options"]
        ]
        shown["options"] = options
        shown["other_texts"] = question.get("other_texts", 0)
        if question["kind"] == "multiple":
            ranked = sorted(options, key=lambda o: -o["count"])
            shown["ranked"] = ranked
            shown["chart"] = charts.bar_chart(ranked, title=label)
        else:
            shown["chart"] = charts.bar_chart(options, title=label)
        if "by" in question:
            ordered = question["code"] in ORDERED_QUESTIONS
            shown["crosstabs"] = [
                _crosstab(question, options, dimension, data, ordered=ordered)
                for dimension in ("region", "industry")
                if question["by"].get(dimension) is not None
            ]
    if "stats" in question:
        shown["stats"] = question["stats"]
    if question.get("months"):
        shown["months"] = [
            {"label": m["month"], "count": m["count"], "pct": m["pct"]} for m in question["months"]
        ]
        shown["chart"] = charts.bar_chart(shown["months"], title=label)
    return shown


def _crosstab(question: dict, options: list[dict], dimension: str, data: dict, *, ordered):
    sizes = data["groups"].get(dimension, {})
    series = [o["label"] for o in options]
    rows = []
    for group in sorted(sizes, key=lambda g: (-(sizes[g] or 0), g)):
        cells = question["by"][dimension].get(group, {})
        if sizes[group] is None or cells is None:
            rows.append(
                {
                    "label": group_label(dimension, group),
                    "responses": None,
                    "cells": None,
                    "note": _fewer_than(),
                }
            )
            continue
        base = sum(cells.values())
        counted = [cells.get(o["code"], 0) for o in options]
        rows.append(
            {
                "label": group_label(dimension, group),
                "responses": base,
                "counts": counted,
                "cells": [round(100 * n / base, 1) if base else 0 for n in counted],
            }
        )
    title = _("By %(dimension)s: %(question)s") % {
        "question": _text(question),
        "dimension": dimension_label(dimension).lower(),
    }
    for row in rows:
        if row["cells"] is not None:
            row["pairs"] = list(zip(row["counts"], row["cells"], strict=True))
    return {
        "dimension": dimension,
        "title": title,
        "series": series,
        "legend": charts.legend(series, ordered),
        "rows": rows,
        "chart": charts.stacked_chart(rows, series=series, title=title, ordered=ordered),
    }


def _present_key(key: dict, by_code: dict) -> dict:
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
        if not rows:
            continue
        chart_rows = [
            {"label": r["label"], "cells": None, "note": _fewer_than()}
            if r.get("suppressed")
            else {
                "label": r["label"],
                "cells": [
                    r["serious_pct"] or 0,
                    round((r["affected_pct"] or 0) - (r["serious_pct"] or 0), 1),
                    round(100 - (r["affected_pct"] or 0), 1) if r["answered"] else 0,
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
