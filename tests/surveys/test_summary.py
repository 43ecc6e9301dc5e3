"""Every summary figure against counts computed independently here from generated data."""

import random
import statistics
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cqa_portal.core.reference import region_group_of
from members.models import MemberCompany
from surveys.summary import compute_summary, public_summary, suppressed_groups

from .factories import CompanyFactory, covid_survey, file_response

pytestmark = pytest.mark.django_db

PROVINCES = ["42", "42", "42", "11", "31", "32", "21", "44", "61"]
SECTIONS = ["C", "C", "H", "I", "E", "G"]
DIVISIONS = ["", "", "汽车制造业", "医药制造业"]
AREAS = ["staff_returning", "manufacturing", "sales", "construction", "raw_materials", "costs"]
NEEDS = ["training", "policies", "publicity"]
SIZES = ["micro", "small", "medium", "medium", "large"]


def generate(survey, n, seed=7):
    """File ``n`` responses (some left as drafts); return what was filed, as the test sees it."""
    rng = random.Random(seed)
    filed = []
    for _ in range(n):
        company = CompanyFactory(
            province=rng.choice(PROVINCES),
            industry_section=rng.choice(SECTIONS),
            industry_division=rng.choice(DIVISIONS),
            size_band=rng.choice(SIZES),
        )
        degree = rng.choice(["none", "slight", "moderate", "severe"])
        resumption = rng.choice(["full", "partly", "not_resumed"])
        answers = {
            "impact_degree": degree,
            "resumption": resumption,
            "staff_back_pct": str(rng.randint(0, 100)),
            "needs": rng.sample(NEEDS, rng.randint(1, 3)),
        }
        # Sent even when hidden: the form must discard it for the unaffected.
        answers["impact_areas"] = rng.sample(AREAS, rng.randint(1, 4))
        if rng.random() < 0.2:
            answers["impact_areas"].append("other")
            answers["impact_areas__other"] = "物流受阻"
        if rng.random() < 0.5:
            answers["full_resumption_date"] = f"2020-04-{rng.randint(1, 28):02d}"
        if rng.random() < 0.3:
            answers["comments"] = "无"
        submitted = rng.random() < 0.85
        file_response(survey, company, answers, submit=submitted)
        if submitted:
            visible = dict(answers)
            if degree == "none":
                visible.pop("impact_areas")
                visible.pop("impact_areas__other", None)
            if resumption == "full":
                visible.pop("full_resumption_date", None)
            filed.append(
                {
                    "region": region_group_of(company.province),
                    "industry": company.industry_section,
                    "division": company.industry_division,
                    "province": company.province,
                    "size": company.size_band,
                    "answers": visible,
                }
            )
    return filed


@pytest.fixture
def survey():
    return covid_survey()


@pytest.fixture
def filed(survey):
    rows = generate(survey, 60)
    # Active members that did not respond, and a suspended one whose answers still count.
    CompanyFactory.create_batch(5)
    lapsed = CompanyFactory(province="11", status=MemberCompany.Status.SUSPENDED)
    answers = {
        "impact_degree": "slight",
        "impact_areas": ["sales"],
        "resumption": "full",
        "staff_back_pct": "90",
        "needs": ["training"],
    }
    file_response(survey, lapsed, answers)
    rows.append(
        {
            "region": "north",
            "industry": "C",
            "division": "",
            "province": "11",
            "size": lapsed.size_band,
            "answers": answers,
        }
    )
    return rows


def pct(part, whole):
    """Half up on the exact fraction, as a reader (or Excel) rounds: 13/16 is 81.3."""
    if not whole:
        return None
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def question(data, code):
    return next(q for q in data["questions"] if q["code"] == code)


def test_totals_and_response_rate(survey, filed):
    data = compute_summary(survey)
    active = MemberCompany.objects.filter(status="active").count()
    responded_active = len(filed) - 1  # the suspended company does not count
    assert data["totals"] == {
        "responses": len(filed),
        "active_members": active,
        "responded_active": responded_active,
        "response_rate": pct(responded_active, active),
    }


@pytest.mark.parametrize("code", ["impact_degree", "impact_areas", "resumption", "needs"])
def test_choice_distributions(survey, filed, code):
    data = compute_summary(survey)
    got = question(data, code)
    answered = [f for f in filed if code in f["answers"]]
    counts = Counter()
    for f in answered:
        value = f["answers"][code]
        counts.update(value if isinstance(value, list) else [value])
    assert got["answered"] == len(answered)
    for option in got["options"]:
        assert option["count"] == counts[option["code"]], option["code"]
        assert option["pct"] == pct(counts[option["code"]], len(answered))
    if got["kind"] == "multiple":
        expected = [c for c, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n]
        assert sorted(got["ranking"]) == sorted(expected)
        ranked = [counts[c] for c in got["ranking"]]
        assert ranked == sorted(ranked, reverse=True)


def test_conditional_question_counts_only_those_shown_it(survey, filed):
    data = compute_summary(survey)
    affected = [f for f in filed if f["answers"]["impact_degree"] != "none"]
    assert question(data, "impact_areas")["answered"] == len(affected)
    others = sum(1 for f in affected if "other" in f["answers"]["impact_areas"])
    assert question(data, "impact_areas")["other_texts"] == others
    not_full = [
        f
        for f in filed
        if f["answers"]["resumption"] != "full" and "full_resumption_date" in f["answers"]
    ]
    assert question(data, "full_resumption_date")["answered"] == len(not_full)


@pytest.mark.parametrize("dimension", ["region", "industry", "division"])
def test_group_sizes_and_crosstabs(survey, filed, dimension):
    data = compute_summary(survey)
    sizes = Counter(f[dimension] for f in filed if f[dimension])
    assert data["groups"][dimension] == dict(sizes)
    for code in ("impact_degree", "resumption"):
        expected = defaultdict(Counter)
        for f in filed:
            if f[dimension]:
                expected[f[dimension]][f["answers"][code]] += 1
        assert question(data, code)["by"][dimension] == {g: dict(c) for g, c in expected.items()}


def test_number_statistics(survey, filed):
    data = compute_summary(survey)
    values = [int(f["answers"]["staff_back_pct"]) for f in filed]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    stats = question(data, "staff_back_pct")["stats"]
    assert stats["n"] == len(values)
    assert stats["mean"] == pytest.approx(statistics.mean(values), abs=1e-4)
    assert stats["min"] == min(values)
    assert stats["max"] == max(values)
    assert stats["q1"] == pytest.approx(q1)
    assert stats["median"] == pytest.approx(median)
    assert stats["q3"] == pytest.approx(q3)


def test_key_figures(survey, filed):
    key = compute_summary(survey)["key"]
    degrees = Counter(f["answers"]["impact_degree"] for f in filed)
    resumption = Counter(f["answers"]["resumption"] for f in filed)
    assert key["overall"]["affected"] == len(filed) - degrees["none"]
    assert key["overall"]["affected_pct"] == pct(len(filed) - degrees["none"], len(filed))
    assert key["overall"]["serious_pct"] == pct(degrees["moderate"] + degrees["severe"], len(filed))
    resumed = resumption["full"] + resumption["partly"]
    assert key["resumed"] == resumed
    assert key["fully_among_resumed_pct"] == pct(resumption["full"], resumed)
    assert key["partly_among_resumed_pct"] == pct(resumption["partly"], resumed)
    hubei = [f for f in filed if f["region"] == "hubei"]
    hubei_affected = sum(1 for f in hubei if f["answers"]["impact_degree"] != "none")
    hubei_not = sum(1 for f in hubei if f["answers"]["resumption"] == "not_resumed")
    assert key["hubei"]["responses"] == len(hubei)
    assert key["hubei"]["affected_pct"] == pct(hubei_affected, len(hubei))
    assert key["hubei"]["not_resumed_pct"] == pct(hubei_not, len(hubei))
    # Industry table: most seriously affected first.
    serious = [r["serious_pct"] for r in key["tables"]["industry"]]
    assert serious == sorted(serious, reverse=True)


def test_dates_by_month(survey, filed):
    data = compute_summary(survey)
    dates = [
        f["answers"]["full_resumption_date"]
        for f in filed
        if "full_resumption_date" in f["answers"]
    ]
    expected = Counter(d[:7] for d in dates)
    got = question(data, "full_resumption_date")["months"]
    assert {m["month"]: m["count"] for m in got} == dict(expected)
    assert all(m["pct"] == pct(m["count"], len(dates)) for m in got)


def test_known_quartiles_exactly(survey):
    for value in [0, 50, 60, 100]:
        file_response(
            survey,
            CompanyFactory(),
            {
                "impact_degree": "none",
                "resumption": "full",
                "staff_back_pct": str(value),
                "needs": ["training"],
            },
        )
    stats = question(compute_summary(survey), "staff_back_pct")["stats"]
    assert stats == {
        "n": 4,
        "mean": 52.5,
        "min": 0.0,
        "q1": 37.5,
        "median": 55.0,
        "q3": 70.0,
        "max": 100.0,
    }


def test_single_value_quartiles(survey):
    file_response(
        survey,
        CompanyFactory(),
        {
            "impact_degree": "none",
            "resumption": "full",
            "staff_back_pct": "42",
            "needs": ["policies"],
        },
    )
    stats = question(compute_summary(survey), "staff_back_pct")["stats"]
    assert (stats["q1"], stats["median"], stats["q3"]) == (42.0, 42.0, 42.0)


def test_empty_survey(survey):
    data = compute_summary(survey)
    assert data["totals"]["responses"] == 0
    assert question(data, "staff_back_pct")["stats"] == {"n": 0}
    assert question(data, "impact_degree")["options"][0]["pct"] is None


def test_quartiles_match_percentile_cont(postgres, survey, filed):
    data = compute_summary(survey)
    staff = question(data, "staff_back_pct")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY a.number), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY a.number), "
            "percentile_cont(0.75) WITHIN GROUP (ORDER BY a.number), avg(a.number) "
            "FROM surveys_answer a JOIN surveys_response r ON r.id = a.response_id "
            "WHERE r.survey_id = %s AND r.status = 'submitted' AND a.question_id = %s",
            [survey.pk, staff["id"]],
        )
        q1, median, q3, mean = cursor.fetchone()
    assert (staff["stats"]["q1"], staff["stats"]["median"], staff["stats"]["q3"]) == (
        pytest.approx(q1),
        pytest.approx(median),
        pytest.approx(q3),
    )
    assert staff["stats"]["mean"] == pytest.approx(float(mean), abs=1e-4)


def test_tally_kept_by_filing_equals_a_recount(survey, filed):
    from surveys.models import TallyCell
    from surveys.tally import tally_rebuild

    def cells():
        fields = ["question_pk", "value", "region_group", "province", "industry_section"]
        fields += ["industry_division", "size_band"]
        return {
            tuple(getattr(c, f) for f in fields): (c.n, c.texts)
            for c in TallyCell.objects.filter(survey=survey)
            if c.n or c.texts
        }

    kept = cells()
    tally_rebuild(survey)
    assert cells() == kept


def test_summary_recounts_when_responses_go_without_the_service(survey, filed):
    before = compute_summary(survey)
    response = survey.responses.filter(status="submitted").first()
    response.company.delete()  # cascades to the response, bypassing response_save
    after = compute_summary(survey)
    assert after["totals"]["responses"] == before["totals"]["responses"] - 1
    assert after["questions"][0]["answered"] == before["questions"][0]["answered"] - 1


def test_query_count_does_not_depend_on_responses(survey):
    generate(survey, 2, seed=1)
    with CaptureQueriesContext(connection) as few:
        compute_summary(survey)
    generate(survey, 20, seed=2)
    with CaptureQueriesContext(connection) as many:
        compute_summary(survey)
    assert len(few) == len(many)
    assert len(many) <= 15


def test_summary_never_scans_answers(survey):
    """The answers are counted into the tally as they are filed; the summary reads the tally."""
    generate(survey, 10)
    with CaptureQueriesContext(connection) as queries:
        compute_summary(survey)
    assert not any("SURVEYS_ANSWER" in q["sql"].upper() for q in queries.captured_queries)


# --- Public view and small-group suppression -------------------------------------------------


def test_suppression_hides_small_groups_and_protects_them_from_subtraction():
    assert suppressed_groups({"a": 10, "b": 6}) == set()
    # "c" is small; hiding only "c" would let it be worked out from the total, so the next
    # smallest group is hidden with it.
    assert suppressed_groups({"a": 10, "b": 6, "c": 3}) == {"b", "c"}
    assert suppressed_groups({"a": 10, "b": 2, "c": 3}) == {"b", "c"}
    assert suppressed_groups({"a": 10, "b": 1, "c": 1, "d": 7}) == {"b", "c", "d"}


def test_public_summary_suppresses_small_groups(survey, filed):
    data = compute_summary(survey)
    public = public_summary(data)
    for dimension, sizes in data["groups"].items():
        hidden = set(public["hidden"][dimension])
        assert suppressed_groups(sizes) <= hidden  # more may be hidden to protect provinces
        ranked = {r["group"] for r in public["key"]["tables"][dimension]}
        for group, n in sizes.items():
            if n < 5:
                assert public["hidden"][dimension][group] == "small"
            if group in hidden:
                assert public["groups"][dimension][group] is None
                for q in public["questions"]:
                    if "by" in q:
                        assert q["by"][dimension][group] is None
                        assert q["answered_by"][dimension][group] is None
                assert group not in ranked  # never placed in a ranked table
            else:
                assert public["groups"][dimension][group] == n
                assert group in ranked
    assert all(q["kind"] not in ("short_text", "long_text") for q in public["questions"])


def test_public_summary_of_fewer_than_five_responses_shows_nothing(survey):
    generate(survey, 3, seed=3)
    public = public_summary(compute_summary(survey))
    assert public["too_few"] is True
    assert public["questions"] == []
    assert public["key"] == {}


def test_percentages_round_half_up_in_the_summary_and_on_the_page(client):
    """16 companies, 13 affected: 81.3 (not Python's 81.2); 5 of 16 severe: 31.3."""
    from surveys import services

    from .factories import COMPLETE

    survey = covid_survey(results_published=True)
    for i in range(16):
        degree = "none" if i < 3 else ("severe" if i < 8 else "slight")
        answers = {**COMPLETE, "impact_degree": degree}
        if degree == "none":
            answers.pop("impact_areas")
        file_response(survey, CompanyFactory(province="11"), answers)
    data = compute_summary(survey)
    assert data["key"]["overall"]["affected_pct"] == 81.3
    assert data["key"]["overall"]["serious_pct"] == 31.3
    options = {o["code"]: o["pct"] for o in question(data, "impact_degree")["options"]}
    assert options == {"none": 18.8, "slight": 50.0, "moderate": 0.0, "severe": 31.3}
    services.summary_snapshot_make(survey_id=survey.pk)
    html = client.get(f"/surveys/{survey.slug}/results/").content.decode()
    assert "81.3%" in html and "31.3" in html and "81.2" not in html


@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_keep_the_tally_exact(postgres):
    """Eight companies of the same groups submit at once, then resubmit changed answers at
    once: the cells kept by filing equal a recount, and nothing deadlocks."""
    import threading

    from surveys.models import TallyCell
    from surveys.tally import tally_rebuild

    from .factories import COMPLETE

    survey = covid_survey()
    companies = [CompanyFactory(province="42", industry_section="C") for _ in range(8)]
    errors = []

    def file_all(answers):
        barrier = threading.Barrier(len(companies))

        def one(company):
            try:
                barrier.wait()
                file_response(survey, company, answers)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=one, args=(c,)) for c in companies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    file_all(COMPLETE)
    file_all({**COMPLETE, "impact_degree": "slight", "needs": ["publicity"], "staff_back_pct": "5"})
    assert errors == []

    def cells():
        return {
            (c.question_pk, c.value, c.province, c.size_band): (c.n, c.texts)
            for c in TallyCell.objects.filter(survey=survey)
            if c.n or c.texts
        }

    kept = cells()
    tally_rebuild(survey)
    assert cells() == kept
    degree = {
        o["code"]: o["count"] for o in question(compute_summary(survey), "impact_degree")["options"]
    }
    assert degree == {"none": 0, "slight": 8, "moderate": 0, "severe": 0}
