"""The one form renderer: required marks, the required legend and the error summary, on the
forms of every app (course registration, signing, survey, allauth)."""

import re

import pytest

from cqa_portal.core.localize import localized
from surveys.forms import ResponseForm
from surveys.selectors import questions_of
from tests.courses.factories import SessionFactory
from tests.surveys.factories import covid_survey

pytestmark = pytest.mark.django_db

SUMMARY = re.compile(
    r'<div class="alert alert-danger error-summary" role="alert" tabindex="-1">(.*?)</div>', re.S
)


def _summary(html: str) -> str:
    found = SUMMARY.findall(html)
    assert len(found) == 1, html[:3000]
    return found[0]


def test_required_fields_are_marked_and_the_legend_is_shown(client):
    session = SessionFactory()
    html = client.get(session.get_absolute_url()).content.decode()
    assert "标 * 的为必填项" in html
    label = re.search(r'<label class="form-label" for="id_email">(.*?)</label>', html, re.S)
    assert '<span class="required-mark" aria-hidden="true">*</span>' in label.group(1)
    assert re.search(r'<input[^>]*name="email"[^>]*required', html)
    # The optional organisation field, if optional, carries no mark.
    optional = re.search(r'<label class="form-label" for="id_organisation">(.*?)</label>', html)
    if optional and "required" not in re.search(r'<input[^>]*name="organisation"[^>]*>', html)[0]:
        assert "required-mark" not in optional.group(1)


def test_failed_course_registration_has_an_error_summary_linking_each_field(client):
    session = SessionFactory()
    response = client.post(f"/courses/{session.pk}/register/", {"email": "not-an-address"})
    assert response.status_code == 400
    summary = _summary(response.content.decode())
    assert "请修正以下问题" in summary
    assert 'href="#id_email"' in summary
    assert 'href="#id_name"' in summary
    # The privacy label's link is not nested inside the summary's link.
    assert summary.count("<a ") == summary.count("</a>")
    assert '<a href="/privacy/"' not in summary


def test_error_summary_in_english(client):
    client.cookies["django_language"] = "en"
    response = client.post("/accounts/login/", {"login": "", "password": ""})
    summary = _summary(response.content.decode())
    assert "Please correct the following problems" in summary
    assert 'href="#id_login"' in summary


def test_survey_questions_marked_required_though_drafts_may_leave_them_empty():
    survey = covid_survey()
    questions = questions_of(survey)
    form = ResponseForm(questions=questions)
    required = [q for q in questions if q.required]
    optional = [q for q in questions if not q.required]
    assert required and optional
    for question in required:
        bound = form[question.field_name]
        assert bound.is_required
        assert not bound.field.required  # the form checks it (drafts may leave it empty)
    for question in optional:
        assert not form[question.field_name].is_required
    html = form.render()
    assert html.count('class="required-mark" aria-hidden="true"') == len(required)
    # A required single choice: its radios say so to assistive technology; its legend too.
    single = next(q for q in required if q.kind == "single")
    assert re.search(rf'<input type="radio" name="{single.field_name}"[^>]*required', html)
    # A draft still saves without the required answers.
    draft = ResponseForm({}, questions=questions, draft=True)
    assert draft.is_valid(), draft.errors


def test_survey_error_summary_links_the_first_choice_of_a_group():
    survey = covid_survey()
    questions = questions_of(survey)
    form = ResponseForm({}, questions=questions)
    assert not form.is_valid()
    single = next(q for q in questions if q.required and q.kind == "single")
    assert form[single.field_name].error_anchor == f"id_{single.field_name}_0"
    from django.template.loader import render_to_string

    summary = _summary(render_to_string("forms/error_summary.html", {"form": form}))
    assert f'href="#id_{single.field_name}_0"' in summary


def test_localized_falls_back_to_chinese(settings):
    from django.utils import translation

    session = SessionFactory.build(description="中文介绍", description_en="")
    with translation.override("en"):
        assert localized(session, "description") == "中文介绍"
        session.description_en = "English description"
        assert session.display_description == "English description"
    with translation.override("zh-hans"):
        assert session.display_description == "中文介绍"
