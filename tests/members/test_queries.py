"""Pages that list things use a fixed number of queries, whatever the number of rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from .factories import CompanyFactory, FeeFactory, MembershipFactory, ReliefFactory

# What rendering costs: the page cache (which serves a second visit with no page query) is off.
pytestmark = pytest.mark.usefixtures("uncached_pages")


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _grow_company(company, n):
    start = company.fees.count()
    for i in range(start, start + n):
        MembershipFactory(company=company, role="colleague")
        FeeFactory(company=company, year=1990 + i)
        ReliefFactory(company=company, year=1990 + i, status="rejected")


def test_member_area_query_count_is_fixed(client, admin_member, django_assert_num_queries):
    client.force_login(admin_member.user)
    _grow_company(admin_member.company, 2)
    small = {url: _count(client, url) for url in ["/members/", "/members/users/"]}
    _grow_company(admin_member.company, 15)
    for url, count in small.items():
        with django_assert_num_queries(count):
            client.get(url)


def test_admin_changelists_query_count_is_fixed(client, staff, django_assert_num_queries):
    client.force_login(staff)
    for url in [
        "/admin/members/membercompany/",
        "/admin/members/membershipfee/",
        "/admin/members/reliefrequest/",
        "/admin/members/membershipapplication/",
    ]:
        company = CompanyFactory()
        _grow_company(company, 2)
        small = _count(client, url)
        for _ in range(5):
            _grow_company(CompanyFactory(), 3)
        with django_assert_num_queries(small):
            client.get(url)


def test_relief_pages_query_count_is_fixed(client, admin_member, django_assert_num_queries):
    """The relief list (on the dashboard), the new-request form and a request's page."""
    client.force_login(admin_member.user)
    relief = ReliefFactory(company=admin_member.company, year=2020, status="draft")
    urls = ["/members/", "/members/relief/new/", f"/members/relief/{relief.pk}/"]
    _grow_company(admin_member.company, 2)
    for url in urls:  # once first: a login's first request, the content-type cache
        client.get(url)
    small = {url: _count(client, url) for url in urls}
    _grow_company(admin_member.company, 15)
    for url, count in small.items():
        with django_assert_num_queries(count):
            client.get(url)


def test_company_admin_page_query_count_is_fixed(client, staff, django_assert_num_queries):
    """Linked-user rows are labelled from the rows (no autocomplete query per row)."""
    client.force_login(staff)
    company = CompanyFactory()
    url = f"/admin/members/membercompany/{company.pk}/change/"
    _grow_company(company, 2)
    client.get(url)  # once first: a login's first request, the content-type cache
    small = _count(client, url)
    _grow_company(company, 10)
    with django_assert_num_queries(small):
        response = client.get(url)
    from django.utils.html import escape

    labels = [escape(str(m.user)) for m in company.members.select_related("user")]
    assert all(f"selected>{label}</option>" in response.content.decode() for label in labels)
