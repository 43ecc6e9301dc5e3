"""Companies, memberships and surveys for the surveys tests."""

import itertools
from datetime import timedelta

from django.utils import timezone

from members.models import CompanyMembership
from surveys import covid
from surveys.models import Question, QuestionOption, Survey
from tests.factories import UserFactory
from tests.members.factories import CompanyFactory

_slugs = itertools.count(1)


def member_user(company=None, *, role=CompanyMembership.Role.COLLEAGUE, **kwargs):
    company = company or CompanyFactory()
    user = UserFactory(**kwargs)
    CompanyMembership.objects.create(user=user, company=company, role=role)
    return user


def covid_survey(**kwargs) -> Survey:
    """A fresh copy of the impact survey, open now (the shipped one is left alone)."""
    now = timezone.now()
    slug = kwargs.pop("slug", None) or f"covid-test-{next(_slugs)}"
    survey = covid.install(
        Survey,
        Question,
        QuestionOption,
        opens_at=kwargs.pop("opens_at", now - timedelta(days=1)),
        closes_at=kwargs.pop("closes_at", now + timedelta(days=10)),
        status=kwargs.pop("status", Survey.Status.OPEN),
        slug=slug,
    )
    if kwargs:
        Survey.objects.filter(pk=survey.pk).update(**kwargs)
        survey.refresh_from_db()
    return survey


def form_data(answers: dict) -> dict:
    """POST data for ResponseForm from ``{question_code: value}`` (lists for multiple choice,
    ``code__other`` for an "other" text)."""
    data = {}
    for code, value in answers.items():
        key = f"q_{code}"
        data[key] = value if isinstance(value, list) else str(value)
    return data


def file_response(survey, company, answers: dict, *, submit: bool = True, user=None):
    """File answers through the real form and service; returns the response."""
    from surveys import services
    from surveys.forms import ResponseForm
    from surveys.selectors import questions_of

    form = ResponseForm(form_data(answers), questions=questions_of(survey), draft=not submit)
    assert form.is_valid(), form.errors
    return services.response_save(
        survey=survey, company=company, user=user, answers=form.answers, submit=submit
    )


COMPLETE = {
    "impact_degree": "moderate",
    "impact_areas": ["staff_returning", "costs"],
    "resumption": "partly",
    "full_resumption_date": "2020-04-15",
    "staff_back_pct": "60",
    "needs": ["training", "policies"],
    "comments": "希望协会多开展线上培训。",
}
