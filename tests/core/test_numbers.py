"""Percentages round half up on the exact fraction, everywhere they are shown or exported."""

import pytest
from django.template import Context, Template

from cqa_portal.core.numbers import half_up, percent, text
from surveys import charts


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(13, 16, 81.3), (5, 16, 31.3), (2, 32, 6.3), (1, 8, 12.5), (1, 3, 33.3), (2, 3, 66.7)],
)
def test_percent_rounds_half_up(part, whole, expected):
    assert percent(part, whole) == expected


def test_python_round_is_what_this_replaces():
    assert [round(100 * p / w, 1) for p, w in ((13, 16), (5, 16), (2, 32))] == [81.2, 31.2, 6.2]


def test_percent_of_nothing_is_none():
    assert percent(0, 0) is None
    assert text(None) == "–"


def test_half_up_on_the_number_as_written():
    assert half_up(0.125, 2) == 0.13  # the float is 0.1250000000000000000…
    assert half_up(2.675, 2) == 2.68  # the float is 2.67499999…; as written it is a tie
    assert text(81.25) == "81.3"
    assert text(12.5, 0) == "13"


def test_template_filter_and_tag():
    rendered = Template(
        "{% load portal_numbers %}{{ a|half_up }} {% percent 13 16 %} {% percent 2 32 %} "
        "{{ b|half_up:0 }}"
    ).render(Context({"a": 31.25, "b": 6.5}))
    assert rendered == "31.3 81.3 6.3 7"


def test_chart_labels_round_half_up():
    svg = charts.stacked_chart(
        [{"label": "x", "cells": [12.5, 87.5]}], series=["a", "b"], title="t"
    )
    assert "13%" in svg and "88%" in svg
