"""The member's survey form renders with a fixed number of queries, whatever the number of
responses in the database and of the company's saved answers."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.models import CompanyMembership
from tests.members.factories import CompanyFactory

from .factories import COMPLETE, covid_survey, file_response, member_user

# What rendering costs: the page cache (which serves a second visit with no page query) is off.
pytestmark = pytest.mark.usefixtures("uncached_pages")


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_survey_form_query_count_is_fixed(client, db, django_assert_num_queries):
    survey = covid_survey()
    user = member_user(role=CompanyMembership.Role.ADMIN)
    company = user.company_membership.company
    client.force_login(user)
    url = f"/surveys/{survey.slug}/"
    file_response(survey, CompanyFactory(), COMPLETE)
    first = {code: COMPLETE[code] for code in list(COMPLETE)[:1]}
    file_response(survey, company, first, submit=False, user=user)  # a draft, one answer
    client.get(url)  # the first request of a login also updates the session
    small = _count(client, url)
    for _ in range(8):
        file_response(survey, CompanyFactory(), COMPLETE)
    file_response(survey, company, COMPLETE, submit=False, user=user)  # every answer saved
    with django_assert_num_queries(small):
        client.get(url)
    with django_assert_num_queries(_count(client, "/surveys/")):
        client.get("/surveys/")
