"""Staff build surveys in the admin; the structure freezes once responses exist."""

import pytest
from django.db.models import QuerySet
from django.forms import SplitDateTimeWidget
from django.utils import timezone

from cqa_portal.core.models import AuditEntry
from surveys.models import Question, QuestionOption, Survey
from tests.factories import StaffFactory

from .factories import COMPLETE, CompanyFactory, covid_survey, file_response

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = StaffFactory()
    client.force_login(user)
    return user


@pytest.fixture
def survey():
    return covid_survey()


def _form_data(form) -> dict:
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if callable(value):
            value = value()
        key = form.add_prefix(name)
        if value is None:
            continue
        if isinstance(field.widget, SplitDateTimeWidget):
            local = timezone.localtime(value)
            data[key + "_0"] = local.strftime("%Y-%m-%d")
            data[key + "_1"] = local.strftime("%H:%M:%S")
        elif isinstance(value, bool):
            if value:
                data[key] = "on"
        elif isinstance(value, list | tuple | QuerySet):
            data[key] = [str(getattr(v, "pk", v)) for v in value]
        else:
            data[key] = str(getattr(value, "pk", value))
    return data


def change_page_data(client, url) -> tuple[dict, dict]:
    """POST data reproducing the change page as shown, and the inline prefixes."""
    response = client.get(url)
    assert response.status_code == 200
    data = _form_data(response.context["adminform"].form)
    prefixes = {}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        prefixes[formset.model.__name__] = formset.prefix
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = str(value)
        for form in formset.forms:
            data.update(_form_data(form))
    return data, prefixes


def question_index(data, prefix, code):
    return next(
        key.split("-")[1]
        for key, value in data.items()
        if key.startswith(prefix + "-") and key.endswith("-code") and value == code
    )


def survey_url(survey):
    return f"/admin/surveys/survey/{survey.pk}/change/"


def test_change_page_round_trip_saves(client, staff, survey):
    data, _ = change_page_data(client, survey_url(survey))
    response = client.post(survey_url(survey), data)
    assert response.status_code == 302, response.context["errors"]


def test_kind_change_allowed_without_responses(client, staff, survey):
    data, prefixes = change_page_data(client, survey_url(survey))
    i = question_index(data, prefixes["Question"], "comments")
    data[f"{prefixes['Question']}-{i}-kind"] = "short_text"
    response = client.post(survey_url(survey), data)
    assert response.status_code == 302
    assert Question.objects.get(survey=survey, code="comments").kind == "short_text"


def test_structural_change_refused_once_responses_exist(client, staff, survey):
    file_response(survey, CompanyFactory(), COMPLETE)
    data, prefixes = change_page_data(client, survey_url(survey))
    i = question_index(data, prefixes["Question"], "staff_back_pct")
    data[f"{prefixes['Question']}-{i}-max_value"] = "200"
    response = client.post(survey_url(survey), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "已有 1 份答卷" in html or "already has 1 response" in html
    assert Question.objects.get(survey=survey, code="staff_back_pct").max_value == 100


def test_wording_fix_allowed_once_responses_exist(client, staff, survey):
    file_response(survey, CompanyFactory(), COMPLETE)
    data, prefixes = change_page_data(client, survey_url(survey))
    i = question_index(data, prefixes["Question"], "comments")
    data[f"{prefixes['Question']}-{i}-text"] = "其他意见、建议和困难"
    response = client.post(survey_url(survey), data)
    assert response.status_code == 302
    assert Question.objects.get(survey=survey, code="comments").text == "其他意见、建议和困难"


def test_adding_or_deleting_a_question_refused_once_responses_exist(client, staff, survey):
    file_response(survey, CompanyFactory(), COMPLETE)
    data, prefixes = change_page_data(client, survey_url(survey))
    prefix = prefixes["Question"]
    i = question_index(data, prefix, "comments")
    data[f"{prefix}-{i}-DELETE"] = "on"
    response = client.post(survey_url(survey), data)
    assert response.status_code == 200
    assert Question.objects.filter(survey=survey, code="comments").exists()

    data, prefixes = change_page_data(client, survey_url(survey))
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = str(total + 1)
    data.update(
        {
            f"{prefix}-{total}-order": "99",
            f"{prefix}-{total}-code": "extra",
            f"{prefix}-{total}-kind": "short_text",
            f"{prefix}-{total}-text": "新问题",
            f"{prefix}-{total}-decimal_places": "0",
        }
    )
    response = client.post(survey_url(survey), data)
    assert response.status_code == 200
    assert not Question.objects.filter(survey=survey, code="extra").exists()


def test_options_frozen_but_labels_editable(client, staff, survey):
    file_response(survey, CompanyFactory(), COMPLETE)
    question = Question.objects.get(survey=survey, code="needs")
    url = f"/admin/surveys/question/{question.pk}/change/"
    data, prefixes = change_page_data(client, url)
    prefix = prefixes["QuestionOption"]
    i = question_index(data, prefix, "training")
    data[f"{prefix}-{i}-code"] = "training2"
    response = client.post(url, data)
    assert response.status_code == 200
    assert QuestionOption.objects.filter(question=question, code="training").exists()

    data, prefixes = change_page_data(client, url)
    data[f"{prefix}-{i}-label_en"] = "Quality tools training"
    response = client.post(url, data)
    assert response.status_code == 302
    assert QuestionOption.objects.get(question=question, code="training").label_en == (
        "Quality tools training"
    )


def test_question_cannot_be_deleted_once_responses_exist(client, staff, survey):
    file_response(survey, CompanyFactory(), COMPLETE)
    question = Question.objects.get(survey=survey, code="comments")
    response = client.post(f"/admin/surveys/question/{question.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Question.objects.filter(pk=question.pk).exists()


def test_condition_must_refer_to_an_earlier_single_choice(client, staff, survey):
    data, prefixes = change_page_data(client, survey_url(survey))
    prefix = prefixes["Question"]
    i = question_index(data, prefix, "impact_degree")
    needs = Question.objects.get(survey=survey, code="resumption")
    data[f"{prefix}-{i}-condition_question"] = str(needs.pk)
    data[f"{prefix}-{i}-condition_options"] = [str(needs.options.first().pk)]
    response = client.post(survey_url(survey), data)
    assert response.status_code == 200
    assert "earlier" in response.content.decode() or "之前" in response.content.decode()


def test_reserved_slug_refused(client, staff):
    response = client.post(
        "/admin/surveys/survey/add/",
        {
            "title": "测试",
            "slug": "findings",
            "opens_at_0": "2020-02-01",
            "opens_at_1": "00:00:00",
            "closes_at_0": "2020-03-01",
            "closes_at_1": "00:00:00",
            "reminder_days": "7,2",
            "status": "draft",
            "questions-TOTAL_FORMS": "0",
            "questions-INITIAL_FORMS": "0",
            "core-auditentry-content_type-object_id-TOTAL_FORMS": "0",
            "core-auditentry-content_type-object_id-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert not Survey.objects.filter(slug="findings").exists()


def test_status_actions_are_audited(client, staff, survey):
    changelist = "/admin/surveys/survey/"
    response = client.post(
        changelist, {"action": "close_surveys", "_selected_action": [str(survey.pk)]}
    )
    assert response.status_code == 302
    survey.refresh_from_db()
    assert survey.status == Survey.Status.CLOSED
    entry = AuditEntry.objects.get(action="surveys.survey.closed")
    assert (entry.from_state, entry.to_state, entry.actor) == ("open", "closed", staff)
    client.post(changelist, {"action": "publish_results", "_selected_action": [str(survey.pk)]})
    survey.refresh_from_db()
    assert survey.results_published is True
    assert AuditEntry.objects.filter(action="surveys.survey.published").exists()


def test_refresh_and_reminder_actions(
    client, staff, survey, mailoutbox, django_capture_on_commit_callbacks
):
    CompanyFactory(contact_email="someone@example.com")
    changelist = "/admin/surveys/survey/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            changelist,
            {"action": "refresh_summary", "_selected_action": [str(survey.pk)]},
            follow=True,
        )
    assert response.status_code == 200
    assert survey.snapshots.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist, {"action": "send_reminders", "_selected_action": [str(survey.pk)]})
    assert [m.to for m in mailoutbox] == [["someone@example.com"]]


def test_duplicate_makes_an_editable_draft(client, staff, survey):
    file_response(survey, CompanyFactory(), COMPLETE)
    response = client.post(
        "/admin/surveys/survey/",
        {"action": "duplicate_surveys", "_selected_action": [str(survey.pk)]},
    )
    assert response.status_code == 302
    copy = Survey.objects.filter(status=Survey.Status.DRAFT).latest("pk")
    assert copy.pk != survey.pk
    assert copy.questions.count() == survey.questions.count()
    areas = copy.questions.get(code="impact_areas")
    assert areas.condition_question.survey_id == copy.pk
    assert sorted(areas.condition_options.values_list("code", flat=True)) == [
        "moderate",
        "severe",
        "slight",
    ]
    assert all(o.question.survey_id == copy.pk for o in areas.condition_options.all())


def test_admin_pages_render(client, staff, survey):
    response_obj = file_response(survey, CompanyFactory(), COMPLETE)
    for url in [
        "/admin/surveys/survey/",
        "/admin/surveys/survey/add/",
        survey_url(survey),
        "/admin/surveys/question/",
        "/admin/surveys/response/",
        f"/admin/surveys/response/{response_obj.pk}/change/",
        "/admin/core/outboxmessage/?q=surveys.reminder:",
        "/admin/surveys/summarysnapshot/",
    ]:
        assert client.get(url).status_code == 200, url
