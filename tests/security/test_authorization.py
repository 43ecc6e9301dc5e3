"""Every URL pattern of the portal, and what each kind of visitor gets from it.

The table below lists every named URL outside the admin and allauth with the status a GET
returns to: an anonymous visitor, a user of company A (its administrator), a user of
another company B, and association staff (with no company). A view added without a row here
fails ``test_every_url_has_a_rule``, so nobody can add a page without deciding who sees it.
Admin URLs are checked separately: every admin page is closed to anonymous visitors and members.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from cqa_portal.core.models import Job
from members import services as member_services
from tests.courses.factories import SessionFactory
from tests.factories import StaffFactory
from tests.members.factories import FeeFactory, MembershipFactory, ReliefFactory
from tests.pledges.factories import AllianceFactory, InitiativeFactory, LetterFactory
from tests.surveys.factories import covid_survey, file_response

LOGIN = "login"  # redirect to the login page
ADMIN = "admin"  # redirect to the admin login (staff_member_required), itself 403 to members
HOME = "members"  # redirect to the member area's start page (no company)
PDF = b"%PDF-1.4\n%%EOF\n"

#  name: (kwargs builder key, anonymous, company A, company B, staff)
RULES: dict[str, tuple[str | None, object, object, object, object]] = {
    # public pages
    "core:home": (None, 200, 200, 200, 200),
    "core:privacy": (None, 200, 200, 200, 200),
    "core:healthz": (None, 200, 200, 200, 200),
    "core:robots": (None, 200, 200, 200, 200),
    "set_language": (None, 302, 302, 302, 302),  # GET without a language goes back
    "pledges:open_letter": (None, 200, 200, 200, 200),
    "pledges:letter_detail": ("letter", 200, 200, 200, 200),
    "pledges:sign": ("initiative", 200, 200, 200, 200),
    "pledges:sign_done": ("initiative", 200, 200, 200, 200),
    "pledges:wall": ("initiative", 200, 200, 200, 200),
    "pledges:alliance": (None, 200, 200, 200, 200),
    "pledges:cosign": (None, 200, 200, 200, 200),
    "pledges:cosign_done": (None, 200, 200, 200, 200),
    "surveys:findings": (None, 200, 200, 200, 200),
    "surveys:results": ("survey", 404, 404, 404, 404),  # findings not published
    "courses:schedule": (None, 200, 200, 200, 200),
    "courses:calendar": (None, 200, 200, 200, 200),
    "courses:session": ("session", 200, 200, 200, 200),
    "courses:session_ics": ("session", 200, 200, 200, 200),
    # signed links: a forged token is a clear page, never a 500
    "pledges:confirm": (
        "token",
        {200, 400, 404},
        {200, 400, 404},
        {200, 400, 404},
        {200, 400, 404},
    ),
    "pledges:withdraw": (
        "token",
        {200, 400, 404},
        {200, 400, 404},
        {200, 400, 404},
        {200, 400, 404},
    ),
    "courses:confirm": (
        "token",
        {200, 400, 404},
        {200, 400, 404},
        {200, 400, 404},
        {200, 400, 404},
    ),
    "courses:registration": (
        "token",
        {200, 400, 404},
        {200, 400, 404},
        {200, 400, 404},
        {200, 400, 404},
    ),
    "courses:registration_ics": ("token", {400, 404}, {400, 404}, {400, 404}, {400, 404}),
    "members:invitation": ("token", 404, 404, 404, 404),
    "core:mail_unsubscribe": ("token", 400, 400, 400, 400),
    # a new confirmation link (the form on an expired link's page) only takes POST
    "pledges:confirm_resend": ("token", 405, 405, 405, 405),
    "courses:confirm_resend": ("token", 405, 405, 405, 405),
    "pledges:withdraw_resend": ("token", 405, 405, 405, 405),
    # personal data: one's own after login, a mailed link, the staff page
    "core:my_data": (None, LOGIN, 200, 200, 200),
    "core:my_data_download": ("fmt_json", LOGIN, 200, 200, 200),
    "core:data_request": (None, 200, 200, 200, 200),
    "core:data_link": ("token", 404, 404, 404, 404),
    "core:data_link_download": ("token_json", 404, 404, 404, 404),
    "core:data_staff": (None, ADMIN, ADMIN, ADMIN, 200),
    "core:privacy_accept": (None, LOGIN, 302, 302, 302),  # accepted already: straight on
    # actions that only take POST: a GET is the 405 page for everybody (core post_only comes
    # first, so nobody is sent to log in only to land on a 405)
    "pledges:sign_company": ("initiative", 405, 405, 405, 405),
    "pledges:withdraw_company": ("initiative", 405, 405, 405, 405),
    "courses:register": ("session", 405, 405, 405, 405),
    "courses:cancel_own": ("session", 405, 405, 405, 405),
    "members:user_remove": ("membership", 405, 405, 405, 405),
    "members:invitation_revoke": ("invitation", 405, 405, 405, 405),
    "members:relief_submit": ("relief", 405, 405, 405, 405),
    "members:relief_withdraw": ("relief", 405, 405, 405, 405),
    # member area: login first; company A's objects are 404 to everybody else
    "members:dashboard": (None, LOGIN, 200, 200, 200),
    "members:apply": (None, LOGIN, 302, 302, 200),
    "members:profile": (None, LOGIN, 200, 200, HOME),
    "members:users": (None, LOGIN, 200, 200, HOME),
    "members:relief_new": (None, LOGIN, 200, 200, HOME),
    "members:relief_detail": ("relief", LOGIN, 200, 404, HOME),
    "members:relief_edit": ("relief", LOGIN, 200, 404, HOME),
    "members:relief_document": ("document", LOGIN, 200, 404, 200),
    "surveys:index": (None, LOGIN, 200, 200, HOME),
    "surveys:fill": ("survey", LOGIN, 200, 200, HOME),
    "surveys:response": ("response", LOGIN, 200, 404, HOME),
    # staff pages outside the admin
    "surveys:staff_results": ("survey", ADMIN, ADMIN, ADMIN, 200),
    "surveys:staff_refresh": ("survey", 405, 405, 405, 405),
    "surveys:export_responses": ("survey_csv", ADMIN, ADMIN, ADMIN, 200),
    "surveys:export_summary": ("survey", ADMIN, ADMIN, ADMIN, 200),
    # background jobs: staff only, each staff member their own (this one is another's)
    "core:jobs": (None, ADMIN, ADMIN, ADMIN, 200),
    "core:job": ("job", ADMIN, ADMIN, ADMIN, 404),
    "core:job_download": ("job", ADMIN, ADMIN, ADMIN, 404),
    "core:job_bad_rows": ("job_csv", ADMIN, ADMIN, ADMIN, 404),
    "core:job_confirm": ("job", 405, 405, 405, 405),
    "surveys:staff_fairness": (None, ADMIN, ADMIN, ADMIN, 200),
    "courses:staff_demand": (None, ADMIN, ADMIN, ADMIN, 200),
    "core:programme_report": (None, ADMIN, ADMIN, ADMIN, 200),
    "core:programme_report_document": (None, ADMIN, ADMIN, ADMIN, 200),
}


def _all_url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, namespace=None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = pattern.namespace
                ns = f"{namespace}:{inner}" if namespace and inner else (inner or namespace)
                walk(pattern.url_patterns, ns)
            elif isinstance(pattern, URLPattern):
                if namespace == "admin":
                    continue
                if not pattern.name:
                    raise AssertionError(f"unnamed URL pattern {pattern.pattern}")
                names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)

    walk(get_resolver().url_patterns)
    return {
        n
        for n in names
        if not n.startswith(("admin:", "account_", "socialaccount_")) and n != "javascript-catalog"
    }


def test_every_url_has_a_rule():
    missing = _all_url_names() - set(RULES)
    assert not missing, f"add these URLs to RULES in {__file__}: {sorted(missing)}"
    stale = set(RULES) - _all_url_names()
    assert not stale, f"RULES name URLs that no longer exist: {sorted(stale)}"


@pytest.fixture
def world(db):
    a = MembershipFactory()
    b = MembershipFactory()
    staff = StaffFactory()
    FeeFactory(company=a.company)
    relief = ReliefFactory(company=a.company, status="draft")
    document = member_services.relief_document_add(
        relief=relief, upload=SimpleUploadedFile("a.pdf", PDF), actor=a.user
    )
    survey = covid_survey()
    response = file_response(
        survey, a.company, {"impact": "none", "resumption": "full"}, submit=False
    )
    initiative = InitiativeFactory()
    AllianceFactory()
    job = Job.objects.create(
        kind="core.import_check", owner=StaffFactory(), title="x", status=Job.Status.DONE,
        report={"bad_rows": [[2, ["x"], "bad"]]},
    )  # fmt: skip
    invitation = member_services.invitation_create(
        company=a.company, email="new@example.com", actor=a.user
    )
    return {
        "users": [None, a.user, b.user, staff],
        "kwargs": {
            None: {},
            "letter": {"slug": LetterFactory(is_published=True).slug},
            "initiative": {"slug": initiative.slug},
            "survey": {"slug": survey.slug},
            "survey_csv": {"slug": survey.slug, "fmt": "csv"},
            "session": {"pk": SessionFactory().pk},
            "token": {"token": "forged:token:value"},
            "token_json": {"token": "forged:token:value", "fmt": "json"},
            "fmt_json": {"fmt": "json"},
            "membership": {"pk": a.pk},
            "invitation": {"pk": invitation.pk},
            "relief": {"pk": relief.pk},
            "document": {"pk": relief.pk, "doc_pk": document.pk},
            "response": {"pk": response.pk},
            "job": {"pk": job.pk},
            "job_csv": {"pk": job.pk, "fmt": "csv"},
        },
    }


def _expected_ok(expected, response) -> bool:
    options = expected if isinstance(expected, set) else {expected}
    for option in options:
        if option == LOGIN and response.status_code == 302:
            if response["Location"].startswith("/accounts/login/"):
                return True
        elif option == ADMIN and response.status_code == 302:
            if response["Location"].startswith("/admin/login/"):
                return True
        elif option == HOME and response.status_code == 302:
            if response["Location"] == "/members/":
                return True
        elif option == response.status_code:
            return True
    return False


@pytest.mark.parametrize("name", sorted(RULES))
def test_who_gets_what(client, world, name):
    key, *expected = RULES[name]
    url = reverse(name, kwargs=world["kwargs"][key])
    problems = []
    for who, user, want in zip(
        ["anonymous", "company A", "company B", "staff"], world["users"], expected, strict=True
    ):
        client.logout()
        if user is not None:
            client.force_login(user)
        response = client.get(url)
        if not _expected_ok(want, response):
            where = response.get("Location", "")
            problems.append(f"{who}: got {response.status_code} {where}, want {want}")
    assert not problems, f"{url}: " + "; ".join(problems)


def test_admin_is_closed_to_anonymous_and_members(client, world):
    from django.contrib import admin

    urls = ["/admin/"] + [
        reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist")
        for m in admin.site._registry
    ]
    member = world["users"][1]
    for url in urls:
        client.logout()
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"], url
        client.force_login(member)
        assert client.get(url, follow=True).status_code == 403, url
        client.force_login(world["users"][3])
        assert client.get(url).status_code == 200, url
