"""Pages that list things use a fixed number of queries, whatever the number of rows."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from .factories import CompanyFactory, FeeFactory, MembershipFactory, ReliefFactory


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
