"""The response form: each kind of question, bounds, choices, "other" text, conditions."""

from datetime import date
from decimal import Decimal

import pytest

from surveys.forms import ResponseForm
from surveys.models import Question, QuestionOption
from surveys.selectors import questions_of

from .factories import COMPLETE, covid_survey, form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey():
    return covid_survey()


def make_form(survey, answers, *, draft=False):
    return ResponseForm(form_data(answers), questions=questions_of(survey), draft=draft)


def answers_by_code(form):
    return {a.question.code: a for a in form.answers}


def test_complete_answers_are_valid(survey):
    form = make_form(survey, COMPLETE)
    assert form.is_valid(), form.errors
    got = answers_by_code(form)
    assert [o.code for o in got["impact_degree"].options] == ["moderate"]
    assert [o.code for o in got["impact_areas"].options] == ["staff_returning", "costs"]
    assert got["staff_back_pct"].number == Decimal("60")
    assert got["full_resumption_date"].date == date(2020, 4, 15)
    assert got["comments"].text == "希望协会多开展线上培训。"


def test_required_questions_are_enforced_on_submit(survey):
    form = make_form(survey, {"impact_degree": "none"})
    assert not form.is_valid()
    assert set(form.errors) == {"q_resumption", "q_staff_back_pct", "q_needs"}
    assert form.errors["q_needs"] == ["请回答此题。"]


def test_required_questions_are_not_enforced_for_a_draft(survey):
    form = make_form(survey, {"impact_degree": "severe"}, draft=True)
    assert form.is_valid(), form.errors
    assert list(answers_by_code(form)) == ["impact_degree"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [("0", True), ("100", True), ("-1", False), ("101", False), ("50.5", False), ("abc", False)],
)
def test_number_bounds_and_whole_numbers(survey, value, ok):
    form = make_form(survey, {**COMPLETE, "staff_back_pct": value})
    assert form.is_valid() is ok
    if not ok:
        assert "q_staff_back_pct" in form.errors


def test_number_bounds_are_checked_in_drafts_too(survey):
    form = make_form(survey, {"staff_back_pct": "150"}, draft=True)
    assert not form.is_valid()
    assert "q_staff_back_pct" in form.errors


def test_choice_must_belong_to_the_question(survey):
    # "sales" is an option of another question, not of the impact degree.
    form = make_form(survey, {**COMPLETE, "impact_degree": "sales"})
    assert not form.is_valid()
    assert "q_impact_degree" in form.errors
    form = make_form(survey, {**COMPLETE, "needs": ["training", "severe"]})
    assert not form.is_valid()
    assert "q_needs" in form.errors


def test_invalid_date_is_refused(survey):
    form = make_form(survey, {**COMPLETE, "full_resumption_date": "2020-02-30"})
    assert not form.is_valid()
    assert "q_full_resumption_date" in form.errors


def test_other_option_needs_its_text(survey):
    form = make_form(survey, {**COMPLETE, "needs": ["other"]})
    assert not form.is_valid()
    assert "q_needs__other" in form.errors
    form = make_form(survey, {**COMPLETE, "needs": ["other"], "needs__other": "融资支持"})
    assert form.is_valid(), form.errors
    assert answers_by_code(form)["needs"].other_text == "融资支持"


def test_other_text_without_ticking_other_is_an_error(survey):
    form = make_form(survey, {**COMPLETE, "needs__other": "融资支持"})
    assert not form.is_valid()
    assert "q_needs__other" in form.errors


def test_hidden_question_answers_are_discarded(survey):
    # Not affected: the impact areas are hidden, so what was sent for them is dropped,
    # even an invalid value; the same for the date when fully resumed.
    answers = {
        **COMPLETE,
        "impact_degree": "none",
        "impact_areas": ["nonsense"],
        "resumption": "full",
        "full_resumption_date": "not a date",
    }
    form = make_form(survey, answers)
    assert form.is_valid(), form.errors
    got = answers_by_code(form)
    assert "impact_areas" not in got
    assert "full_resumption_date" not in got


def test_shown_conditional_question_is_required(survey):
    answers = {k: v for k, v in COMPLETE.items() if k != "impact_areas"}
    form = make_form(survey, {**answers, "impact_degree": "slight"})
    assert not form.is_valid()
    assert list(form.errors) == ["q_impact_areas"]


def test_conditional_question_hidden_when_its_condition_is_unanswered(survey):
    form = make_form(survey, {"impact_areas": ["sales"]}, draft=True)
    assert form.is_valid()
    assert form.answers == []


def test_short_text_length_is_limited(survey):
    question = Question.objects.create(
        survey=survey, order=100, code="contact", kind=Question.Kind.SHORT_TEXT, text="联系人"
    )
    assert question.pk
    form = make_form(survey, {**COMPLETE, "contact": "张" * 201})
    assert not form.is_valid()
    assert "q_contact" in form.errors
    form = make_form(survey, {**COMPLETE, "contact": " 张明 "})
    assert form.is_valid()
    assert answers_by_code(form)["contact"].text == "张明"


def test_errors_are_in_chinese_by_default(survey, client):
    form = make_form(survey, {**COMPLETE, "staff_back_pct": "101"})
    assert not form.is_valid()
    assert "100" in form.errors["q_staff_back_pct"][0]
    assert "100.0000" not in form.errors["q_staff_back_pct"][0]
    assert "确保" in form.errors["q_staff_back_pct"][0]  # Django's Chinese message


def test_single_choice_with_other_option(survey):
    question = Question.objects.get(survey=survey, code="resumption")
    QuestionOption.objects.create(
        question=question, order=9, code="other", label_zh="其他", is_other=True
    )
    form = make_form(survey, {**COMPLETE, "resumption": "other", "resumption__other": "轮岗"})
    assert form.is_valid(), form.errors
    assert answers_by_code(form)["resumption"].other_text == "轮岗"
