"""Member filing: drafts, submission, one response per company, editing until close, access."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from cqa_portal.core.models import AuditEntry
from members.models import MemberCompany
from surveys.models import Answer, Response, Survey
from tests.factories import UserFactory

from .factories import COMPLETE, CompanyFactory, covid_survey, file_response, form_data, member_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey():
    return covid_survey()


@pytest.fixture
def company():
    return CompanyFactory(province="42", industry_section="H", industry_division="旅游饭店")


@pytest.fixture
def member(client, company):
    user = member_user(company)
    client.force_login(user)
    return user


def url(survey):
    return f"/surveys/{survey.slug}/"


def test_member_sees_the_form(client, member, survey):
    response = client.get(url(survey))
    assert response.status_code == 200
    html = response.content.decode()
    assert "疫情对贵单位生产经营的影响程度如何？" in html
    assert 'name="q_impact_degree"' in html
    assert 'data-show-if="q_impact_degree"' in html  # conditional question marked up
    assert "保存草稿" in html


def test_save_draft_then_submit(client, member, company, survey):
    response = client.post(url(survey), {**form_data({"impact_degree": "severe"}), "draft": "1"})
    assert response.status_code == 302
    saved = Response.objects.get(survey=survey, company=company)
    assert saved.status == Response.Status.DRAFT
    assert saved.province == ""  # nothing copied before submission
    assert list(saved.answers.values_list("option__code", flat=True)) == ["severe"]
    # The draft is shown again in the form.
    html = client.get(url(survey)).content.decode()
    assert 'value="severe" checked' in html.replace('checked=""', "checked") or "checked" in html

    response = client.post(url(survey), {**form_data(COMPLETE), "submit": "1"})
    assert response.status_code == 302
    saved.refresh_from_db()
    assert saved.status == Response.Status.SUBMITTED
    assert saved.submitted_by == member
    assert saved.answers.count() == 9  # 1 + 2 areas + 1 + date + number + 2 needs + comment
    assert AuditEntry.objects.filter(action="surveys.response.submitted").count() == 1


def test_invalid_submit_saves_nothing(client, member, company, survey):
    response = client.post(url(survey), {**form_data({"impact_degree": "severe"}), "submit": "1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "请回答此题。" in html
    assert 'id="id_q_resumption_error"' in html or "q_resumption" in html
    assert not Response.objects.filter(company=company).exists()


def test_invalid_submit_keeps_the_earlier_draft_unchanged(client, member, company, survey):
    file_response(survey, company, {"impact_degree": "slight"}, submit=False)
    client.post(url(survey), {**form_data({"impact_degree": "severe"}), "submit": "1"})
    saved = Response.objects.get(company=company)
    assert saved.status == Response.Status.DRAFT
    assert list(saved.answers.values_list("option__code", flat=True)) == ["slight"]


def test_invalid_draft_saves_nothing(client, member, company, survey):
    response = client.post(url(survey), {**form_data({"staff_back_pct": "300"}), "draft": "1"})
    assert response.status_code == 200
    assert not Response.objects.filter(company=company).exists()


def test_hidden_answers_are_not_stored(client, member, company, survey):
    answers = {**COMPLETE, "impact_degree": "none", "resumption": "full"}
    client.post(url(survey), {**form_data(answers), "submit": "1"})
    saved = Response.objects.get(company=company)
    codes = set(saved.answers.values_list("question__code", flat=True))
    assert "impact_areas" not in codes
    assert "full_resumption_date" not in codes


def test_one_response_per_company_shared_by_its_users(client, company, survey):
    first, second = member_user(company), member_user(company)
    client.force_login(first)
    client.post(url(survey), {**form_data({"impact_degree": "slight"}), "draft": "1"})
    client.force_login(second)
    client.post(url(survey), {**form_data(COMPLETE), "submit": "1"})
    assert Response.objects.filter(survey=survey, company=company).count() == 1
    saved = Response.objects.get(company=company)
    assert saved.created_by == first
    assert saved.submitted_by == second


def test_database_refuses_a_second_response(company, survey):
    Response.objects.create(survey=survey, company=company)
    with pytest.raises(IntegrityError):
        Response.objects.create(survey=survey, company=company)


def test_submitted_answers_are_shown_and_can_be_changed_until_close(
    client, member, company, survey
):
    file_response(survey, company, COMPLETE)
    html = client.get(url(survey)).content.decode()
    assert "贵单位的答案" in html or "较大影响" in html
    assert "?edit=1" in html
    assert 'name="q_impact_degree"' not in html  # answers, not the form
    html = client.get(url(survey) + "?edit=1").content.decode()
    assert 'name="q_impact_degree"' in html
    assert 'name="draft"' not in html  # a submitted response cannot go back to draft
    client.post(url(survey), {**form_data({**COMPLETE, "impact_degree": "severe"}), "submit": "1"})
    saved = Response.objects.get(company=company)
    assert saved.answers.filter(question__code="impact_degree").get().option.code == "severe"
    assert AuditEntry.objects.filter(action="surveys.response.updated").count() == 1


def test_no_changes_after_close(client, member, company, survey):
    file_response(survey, company, COMPLETE)
    Survey.objects.filter(pk=survey.pk).update(closes_at=timezone.now() - timedelta(minutes=1))
    response = client.post(
        url(survey), {**form_data({**COMPLETE, "impact_degree": "severe"}), "submit": "1"}
    )
    assert response.status_code == 302
    saved = Response.objects.get(company=company)
    assert saved.answers.filter(question__code="impact_degree").get().option.code == "moderate"
    html = client.get(url(survey)).content.decode()
    assert 'name="q_impact_degree"' not in html
    assert "较大影响" in html  # the company still sees its answers


def test_service_refuses_when_closed(company, survey):
    survey.status = Survey.Status.CLOSED
    survey.save()
    with pytest.raises(ValidationError):
        file_response(survey, company, COMPLETE)


def test_submission_copies_province_and_industry(company, survey):
    response = file_response(survey, company, COMPLETE)
    MemberCompany.objects.filter(pk=company.pk).update(province="11", industry_section="I")
    response.refresh_from_db()
    assert (response.province, response.region_group, response.industry_section) == (
        "42",
        "hubei",
        "H",
    )
    assert response.industry_division == "旅游饭店"


def test_anonymous_is_sent_to_login(client, survey):
    for path in [url(survey), "/surveys/", "/surveys/responses/1/"]:
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_user_without_company_is_redirected_with_a_message(client, survey):
    client.force_login(UserFactory())
    response = client.get(url(survey), follow=False)
    assert response.status_code == 302
    assert response["Location"] == "/members/"


def test_other_company_gets_404_for_a_response(client, company, survey):
    response = file_response(survey, company, {"impact_degree": "slight"}, submit=False)
    client.force_login(member_user(CompanyFactory()))
    assert client.get(f"/surveys/responses/{response.pk}/").status_code == 404
    # Their own survey page shows their own (empty) form, never the other company's draft.
    html = client.get(url(survey)).content.decode()
    assert "checked" not in html


def test_own_response_page(client, member, company, survey):
    response = file_response(survey, company, COMPLETE)
    html = client.get(f"/surveys/responses/{response.pk}/").content.decode()
    assert company.name in html
    assert "人员到岗" in html and "成本上升" in html


def test_draft_survey_is_not_visible_to_members(client, member, survey):
    Survey.objects.filter(pk=survey.pk).update(status=Survey.Status.DRAFT)
    assert client.get(url(survey)).status_code == 404


def test_index_lists_surveys_with_own_status(client, member, company, survey):
    file_response(survey, company, {"impact_degree": "slight"}, submit=False)
    html = client.get("/surveys/").content.decode()
    assert survey.title in html
    assert "草稿" in html


def test_answers_of_another_survey_are_refused(company, survey):
    from surveys import services
    from surveys.forms import CleanAnswer
    from surveys.models import Question

    other = covid_survey()
    foreign = Question.objects.get(survey=other, code="comments")
    with pytest.raises(ValidationError):
        services.response_save(
            survey=survey,
            company=company,
            user=None,
            answers=[CleanAnswer(question=foreign, text="x")],
            submit=False,
        )
    assert not Answer.objects.exists()


def test_form_in_english(client, member, survey):
    client.cookies["django_language"] = "en"
    html = client.get(url(survey)).content.decode()
    assert "How much has the epidemic affected your company" in html
    assert "Save draft" in html
    response = client.post(url(survey), {**form_data({"impact_degree": "severe"}), "submit": "1"})
    assert "Please answer this question." in response.content.decode()
