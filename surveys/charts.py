"""Server-rendered SVG charts: readable without JavaScript, no external library.

Every chart carries a text title and description for screen readers; the same numbers are
always shown in a table next to it.
"""

from __future__ import annotations

import zlib

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from cqa_portal.core import numbers

PALETTE = ["#1b6ca8", "#e07b00", "#9e1b1b", "#3f8a3a", "#6f4e9c", "#8a6d00", "#0f7f7f", "#6b6b6b"]
# Ordered scales read better with a sequential palette (e.g. none → severe).
SCALE = ["#3f8a3a", "#c9a400", "#e07b00", "#9e1b1b"]
# Serious, slight, not affected.
IMPACT = ["#9e1b1b", "#c9a400", "#3f8a3a"]
WIDTH = 640
LABEL_H = 16
BAR_H = 16
ROW_H = 42


def colours(count: int, ordered: bool = False) -> list[str]:
    if ordered and count <= len(SCALE):
        return SCALE[:count] if count == len(SCALE) else SCALE[-count:]
    return [PALETTE[i % len(PALETTE)] for i in range(count)]


def _fmt(pct: float | None) -> str:
    return "–" if pct is None else f"{numbers.text(pct, 1).removesuffix('.0')}%"


def bar_chart(rows: list[dict], *, title: str, colour: str = PALETTE[0]) -> SafeString:
    """Horizontal bars, one per row: ``{"label", "count", "pct"}`` (pct of the base)."""
    height = max(len(rows), 1) * ROW_H + 8
    area = WIDTH - 110
    parts = [
        format_html(
            '<svg class="survey-chart" viewBox="0 0 {} {}" width="100%" role="img" '
            'aria-labelledby="{}-t" xmlns="http://www.w3.org/2000/svg">'
            '<title id="{}-t">{}</title>',
            WIDTH,
            height,
            _id(title),
            _id(title),
            title,
        )
    ]
    for i, row in enumerate(rows):
        y = i * ROW_H + 4
        width = round(area * (row.get("pct") or 0) / 100, 1)
        parts.append(
            format_html(
                '<text x="0" y="{}" font-size="13" fill="#222">{}</text>'
                '<rect x="0" y="{}" width="{}" height="{}" fill="{}" rx="2"></rect>'
                '<text x="{}" y="{}" font-size="12" fill="#222">{} ({})</text>',
                y + 13,
                row["label"],
                y + LABEL_H + 4,
                width,
                BAR_H,
                colour,
                width + 6,
                y + LABEL_H + 16,
                _fmt(row.get("pct")),
                row.get("count", ""),
            )
        )
    parts.append(mark_safe("</svg>"))  # noqa: S308 - constant markup
    return mark_safe("".join(str(p) for p in parts))  # noqa: S308 - parts are escaped above


def stacked_chart(
    groups: list[dict],
    *,
    series: list[str],
    title: str,
    ordered: bool = False,
    palette: list[str] | None = None,
) -> SafeString:
    """One 100% stacked bar per group: ``{"label", "cells": [pct, ...]}`` in ``series`` order.

    Suppressed groups (``cells`` None) show as an empty outline with a note.
    """
    palette = palette or colours(len(series), ordered)
    height = max(len(groups), 1) * ROW_H + 8
    area = WIDTH - 10
    parts = [
        format_html(
            '<svg class="survey-chart" viewBox="0 0 {} {}" width="100%" role="img" '
            'aria-labelledby="{}-t" xmlns="http://www.w3.org/2000/svg">'
            '<title id="{}-t">{}</title>',
            WIDTH,
            height,
            _id(title),
            _id(title),
            title,
        )
    ]
    for i, group in enumerate(groups):
        y = i * ROW_H + 4
        parts.append(
            format_html(
                '<text x="0" y="{}" font-size="13" fill="#222">{}</text>', y + 13, group["label"]
            )
        )
        if group.get("cells") is None:
            parts.append(
                format_html(
                    '<rect x="0" y="{}" width="{}" height="{}" fill="none" stroke="#999" '
                    'stroke-dasharray="4 3"></rect>'
                    '<text x="8" y="{}" font-size="12" fill="#555">{}</text>',
                    y + LABEL_H + 4,
                    area,
                    BAR_H,
                    y + LABEL_H + 16,
                    group.get("note", ""),
                )
            )
            continue
        x = 0.0
        for j, pct in enumerate(group["cells"]):
            width = round(area * (pct or 0) / 100, 1)
            if width <= 0:
                continue
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                    "<title>{}: {}</title></rect>",
                    round(x, 1),
                    y + LABEL_H + 4,
                    width,
                    BAR_H,
                    palette[j],
                    series[j],
                    _fmt(pct),
                )
            )
            if width >= 34:
                parts.append(
                    format_html(
                        '<text x="{}" y="{}" font-size="11" fill="#fff">{}</text>',
                        round(x + 4, 1),
                        y + LABEL_H + 16,
                        f"{numbers.text(pct, 0)}%",
                    )
                )
            x += width
    parts.append(mark_safe("</svg>"))  # noqa: S308 - constant markup
    return mark_safe("".join(str(p) for p in parts))  # noqa: S308 - parts are escaped above


def legend(series: list[str], ordered: bool = False, palette=None) -> list[dict]:
    palette = palette or colours(len(series), ordered)
    return [
        {"label": label, "colour": colour} for label, colour in zip(series, palette, strict=True)
    ]


def _id(title: str) -> str:
    return "chart-" + format(zlib.crc32(str(title).encode()), "x")
