"""Survey exports speak the reader's language: every header and sheet name of the responses and
summary exports is translated (Chinese: has Chinese text; both: never a bare code)."""

import io
import re

import pytest
from django.core.management import call_command
from django.utils import translation

from surveys import covid, exports
from surveys.models import Question, QuestionOption, Survey
from surveys.summary import compute_summary

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def survey():
    call_command("seed_demo", stdout=io.StringIO())
    return Survey.objects.get(slug=covid.SLUG)


def _codes(survey) -> set[str]:
    codes = set(Question.objects.filter(survey=survey).values_list("code", flat=True))
    codes |= set(
        QuestionOption.objects.filter(question__survey=survey).values_list("code", flat=True)
    )
    return codes


def _labels(survey):
    sheets = [
        exports.response_sheet(survey),
        *exports.summary_sheets(survey, compute_summary(survey)),
    ]
    for sheet in sheets:
        yield "sheet", str(sheet.title)
        for header in sheet.header:
            yield "header", str(header)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_header_and_sheet_name_is_translated(survey, language):
    codes = _codes(survey)
    english = set()
    with translation.override("en"):
        english = {text for _kind, text in _labels(survey)}
    with translation.override(language):
        labels = list(_labels(survey))
    assert len(labels) > 40
    for kind, text in labels:
        assert text.strip(), (kind, text)
        assert text not in codes and text.split()[0] not in codes, f"{kind} {text!r} is a code"
        assert not re.search(r"[a-z]+_[a-z_]+", text), f"{kind} {text!r} shows a code"
        assert not re.fullmatch(r"[a-z]{1,3}", text), f"{kind} {text!r} is an abbreviation"
        if language == "zh-hans":
            assert CJK.search(text), f"{kind} {text!r} is not translated"
            assert text not in english or CJK.search(text), f"{kind} {text!r} is English"
