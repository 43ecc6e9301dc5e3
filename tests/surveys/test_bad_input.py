"""Property-based: random and hostile answers to a survey (every question kind, drafts and
submissions, conditional questions, multiple-choice codes, numbers out of bounds, dates) and
hostile ids and slugs never cause a 500 or a partial write, and always get a message in
Chinese."""

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.contrib.messages import constants
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cqa_portal.core.models import AuditEntry
from surveys.models import Answer, Question, QuestionOption, Response, Survey
from tests.factories import StaffFactory
from tests.hostile import assert_chinese

from .factories import COMPLETE, CompanyFactory, covid_survey, member_user

SCRIPT = "<script>alert(1)</script>"
HOSTILE = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "=cmd|' /C calc'!A0",
            SCRIPT,
            "'; DROP TABLE surveys_answer; --",
            "\x00\x01\x02",
            "a\x00b",
            "９１１１００００６０００３７３４１Ｌ",
            "１００",
            "-1e309",
            "1e309",
            "1E+5",
            "NaN",
            "sNaN",
            "Infinity",
            "-0",
            "100.0000001",
            "-0.5",
            "9" * 400,
            "1" + "0" * 5000,
            "2020-02-30",
            "0000-01-01",
            "9999-12-31",
            "10000-01-01",
            "2020-13-01",
            "𠮷" * 50,
            "😀" * 120,
            "x" * 6000,
        ]
    ),
)
HUGE_IDS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 2**31, 2**63 - 1, 2**63, 2**64, int("9" * 400)]),
)
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CJK = re.compile(r"[\u4e00-\u9fff]")
ERROR_BLOCK = re.compile(
    r'<(?:div|p) class="(?:invalid-feedback[^"]*|alert alert-danger[^"]*)"[^>]*>(.*?)</(?:div|p)>',
    re.S,
)

IMPACT = ["none", "slight", "moderate", "severe"]
AREAS = ["staff_returning", "manufacturing", "sales", "construction", "raw_materials", "costs"]
RESUMPTION = ["full", "partly", "not_resumed"]
NEEDS = ["training", "policies", "publicity"]


def valid_or(values):
    return st.one_of(st.sampled_from(values), HOSTILE)


def choices(codes):
    """A list of codes: real ones, "other", and hostile strings mixed in."""
    return st.lists(st.one_of(st.sampled_from([*codes, "other"]), HOSTILE), max_size=5)


def messages_of(response) -> list:
    """The messages this request added (earlier ones may still wait in the cookie)."""
    return list(response.wsgi_request._messages._queued_messages)


def snapshot() -> tuple:
    return (
        list(Response.objects.order_by("pk").values_list("pk", "status", "updated_at")),
        list(
            Answer.objects.order_by("pk").values_list(
                "response_id", "question_id", "option_id", "number", "text", "date"
            )
        ),
        AuditEntry.objects.count(),
    )


@pytest.fixture
def survey(db):
    survey = covid_survey()
    # The impact survey has no short text and only whole numbers: add both.
    Question.objects.create(survey=survey, order=90, code="department", kind="short_text",
                            text="填表部门")  # fmt: skip
    Question.objects.create(survey=survey, order=91, code="loss", kind="number", text="损失",
                            decimal_places=2, min_value=Decimal("-1000.5"),
                            max_value=Decimal("999999999.99"))  # fmt: skip
    # No bounds at all: only the database column limits the number.
    Question.objects.create(survey=survey, order=92, code="output", kind="number", text="产值")
    return survey


@pytest.fixture
def company(db):
    return CompanyFactory(province="42", industry_section="C")


@pytest.fixture
def member(client, company):
    user = member_user(company)
    client.force_login(user)
    return user


ANSWERS = st.fixed_dictionaries(
    {},
    optional={
        "q_impact_degree": valid_or(IMPACT),
        "q_impact_areas": choices(AREAS),
        "q_impact_areas__other": st.one_of(st.just("停工待料"), HOSTILE),
        "q_resumption": valid_or(RESUMPTION),
        "q_full_resumption_date": valid_or(["2020-04-15", "2020-4-15", ""]),
        "q_staff_back_pct": valid_or(["0", "60", "100", "101", "-1", "60.5"]),
        "q_needs": choices(NEEDS),
        "q_needs__other": st.one_of(st.just("资金"), HOSTILE),
        "q_comments": st.one_of(st.just("希望协会多开展线上培训。"), HOSTILE),
        "q_department": st.one_of(st.just("质量部"), HOSTILE),
        "q_loss": valid_or(["-1000.5", "0.01", "999999999.99", "1000000000", "0.001"]),
        "q_output": valid_or(
            ["0", "-5", "9999999999", "10000000000", "99999999999999", "-99999999999999"]
        ),
        "q_no_such_question": HOSTILE,
        "q_impact_degree__other": HOSTILE,
    },
)


def _check(response, before, sent):
    """Never a 500; a refusal shows a Chinese message and changes nothing."""
    assert response.status_code in (200, 302)
    assert SCRIPT not in response.content.decode()  # what was sent is shown escaped
    if response.status_code == 302:
        shown = messages_of(response)
        assert shown
        for message in shown:
            assert_chinese(str(message), sent)
        return not any(m.level == constants.ERROR for m in shown)
    assert snapshot() == before
    blocks = ERROR_BLOCK.findall(response.content.decode())
    assert blocks, response.content.decode()[-2000:]
    assert_chinese(" ".join(blocks), sent)
    return False


def _flat(answers: dict) -> list[str]:
    values = []
    for value in answers.values():
        values.extend(value if isinstance(value, list) else [value])
    return values


@SETTINGS
@given(answers=ANSWERS, submit=st.booleans())
def test_filing_never_500_and_never_half_saves(client, member, company, survey, answers, submit):
    before = snapshot()
    action = {"submit": "1"} if submit else {"draft": "1"}
    response = client.post(f"/surveys/{survey.slug}/", {**answers, **action})
    saved = _check(response, before, _flat(answers))
    event("saved" if saved else "refused")
    stored = Response.objects.filter(survey=survey, company=company).first()
    if saved:
        assert stored is not None
        assert stored.status == (Response.Status.SUBMITTED if submit else Response.Status.DRAFT)
        for answer in Answer.objects.filter(response=stored).select_related("question"):
            question = answer.question
            if question.kind == Question.Kind.NUMBER and answer.number is not None:
                low, high = question.min_value, question.max_value
                assert (low is None or answer.number >= low) and (
                    high is None or answer.number <= high
                )
            assert "\x00" not in answer.text
        # Questions hidden by their condition keep no answer.
        impact = answers.get("q_impact_degree")
        if impact not in ("slight", "moderate", "severe"):
            assert not Answer.objects.filter(
                response=stored, question__code="impact_areas"
            ).exists()
    # Start every example from a clean slate (the response of a saved example would otherwise
    # turn later drafts into "already submitted" refusals only).
    Response.objects.filter(company=company).delete()


NUMBERS = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(),
    st.sampled_from(["99999999999999", "9999999999.9999", "1e10", "1E+13", "0.00001", "1,000"]),
    HOSTILE,
).map(str)


@SETTINGS
@given(code=st.sampled_from(["staff_back_pct", "loss", "output"]), value=NUMBERS)
def test_numbers_never_500_and_stay_within_bounds_and_the_column(
    client, member, company, survey, code, value
):
    before = snapshot()
    data = {**_post(COMPLETE), f"q_{code}": value, "submit": "1"}
    response = client.post(f"/surveys/{survey.slug}/", data)
    if _check(response, before, [value]):
        event("saved")
        answer = Answer.objects.filter(response__company=company, question__code=code).first()
        question = Question.objects.get(survey=survey, code=code)
        if answer is None:  # left empty: allowed for an optional question only
            assert not question.required and not value.strip()
        else:
            number = answer.number
            assert question.min_value is None or number >= question.min_value
            assert question.max_value is None or number <= question.max_value
            assert abs(number) < 10**10
    else:
        event("refused")
    Response.objects.filter(company=company).delete()


@SETTINGS
@given(answers=ANSWERS)
def test_a_refused_change_keeps_the_submitted_answers(client, member, company, survey, answers):
    if not Response.objects.filter(company=company).exists():
        client.post(f"/surveys/{survey.slug}/", {**_post(COMPLETE), "submit": "1"})
    first = snapshot()
    assert Response.objects.get(company=company).is_submitted
    # A draft over a submitted response is refused whatever it holds.
    response = client.post(f"/surveys/{survey.slug}/", {**answers, "draft": "1"})
    assert response.status_code == 200
    assert snapshot() == first
    assert_chinese(" ".join(ERROR_BLOCK.findall(response.content.decode())), _flat(answers))


def _post(answers: dict) -> dict:
    return {f"q_{code}": value for code, value in answers.items()}


@SETTINGS
@given(answers=ANSWERS, submit=st.booleans())
def test_closed_survey_refuses_anything(client, member, company, answers, submit):
    now = timezone.now()
    survey = Survey.objects.filter(slug="closed-bad-input").first() or covid_survey(
        slug="closed-bad-input",
        opens_at=now - timedelta(days=10),
        closes_at=now - timedelta(days=1),
        status=Survey.Status.CLOSED,
    )
    before = snapshot()
    response = client.post(f"/surveys/{survey.slug}/", {**answers, "submit" if submit else "d": 1})
    assert response.status_code == 302
    assert snapshot() == before
    [message] = messages_of(response)
    assert message.level == constants.ERROR and CJK.search(str(message))


@SETTINGS
@given(
    slug=HOSTILE,
    pk=HUGE_IDS,
    path=st.sampled_from(
        [
            "{slug}/",
            "{slug}/results/",
            "{slug}/staff/results/",
            "{slug}/staff/refresh/",
            "{slug}/staff/export/responses.{slug}",
            "{slug}/staff/export/summary.xlsx",
            "responses/{pk}/",
        ]
    ),
    method=st.sampled_from(["get", "post"]),
    staff=st.booleans(),
)
def test_hostile_slugs_and_ids_never_500(client, company, survey, slug, pk, path, method, staff):
    if staff:
        client.force_login(StaffFactory())
    else:
        client.force_login(member_user(company))
    before = snapshot()
    url = "/surveys/" + path.format(slug=quote(slug, safe=""), pk=pk)
    response = getattr(client, method)(url, {"q_impact_degree": slug})
    assert response.status_code in (302, 404, 405)
    assert snapshot() == before


@SETTINGS
@given(fmt=HOSTILE)
def test_staff_export_with_hostile_format_is_404(client, survey, fmt):
    client.force_login(StaffFactory())
    url = f"/surveys/{survey.slug}/staff/export/responses.{quote(fmt, safe='')}"
    response = client.get(url)
    assert response.status_code in (200, 404)
    if response.status_code == 200:
        assert fmt in ("csv", "xlsx")


def test_options_of_another_question_are_not_accepted(client, member, company, survey):
    """A code that exists, but on another question, is refused like any unknown code."""
    other = QuestionOption.objects.get(
        question__survey=survey, question__code="needs", code="training"
    )
    data = {**_post(COMPLETE), "q_impact_areas": [other.code, "costs"], "submit": "1"}
    before = snapshot()
    response = client.post(f"/surveys/{survey.slug}/", data)
    assert response.status_code == 200
    assert snapshot() == before
    assert "选择一个有效的选项" in response.content.decode()


def test_single_choice_sent_two_values_is_refused_with_a_message(client, member, company, survey):
    before = snapshot()
    data = {**_post(COMPLETE), "q_impact_degree": ["moderate", "severe"], "submit": "1"}
    response = client.post(f"/surveys/{survey.slug}/", data)
    assert response.status_code == 200
    assert "只能选择一项" in " ".join(ERROR_BLOCK.findall(response.content.decode()))
    assert snapshot() == before
    assert not Response.objects.filter(survey=survey, company=company).exists()
