"""Survey responses generated inside PostgreSQL (INSERT … SELECT generate_series).

Used by ``survey_summary.py``: a million responses and about eight million answers load in well
under a minute because no row passes through Python. ``setseed`` makes every run the same data.
"""

from __future__ import annotations

# Weighted lists: picking a uniform element gives the weights.
PROVINCES = ["42"] * 6 + ["11", "31", "32", "33", "44", "21", "61", "51", "41", "37", "65", "81"]
DIVISIONS = (
    [("C", "汽车制造业")] * 3
    + [("C", "通用设备制造业")] * 2
    + [("C", "医药制造业"), ("C", "电气机械和器材制造业"), ("B", "煤炭开采和洗选业")]
    + [("E", "房屋建筑业"), ("G", "道路运输业"), ("H", "餐饮业"), ("I", "软件和信息技术服务业")]
    + [("D", "电力、热力生产和供应业"), ("M", "专业技术服务业"), ("F", "批发业"), ("J", "")]
)
SIZES = ["micro", "small", "small", "medium", "medium", "medium", "large"]
AREAS = ["staff_returning", "manufacturing", "sales", "construction", "raw_materials", "costs"]
NEEDS = ["training", "policies", "publicity"]


def _array(values) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values) -> str:
    return f"({_array(values)})[1 + floor(random() * {len(values)})::int]"


def companies(cursor, *, count: int, level_id: int, prefix: str = "B") -> list[int]:
    """``count`` active member companies; returns their ids in order."""
    cursor.execute(
        "INSERT INTO members_membercompany (name, name_en, uscc, uscc_needs_review, province, "
        "industry_section, industry_division, size_band, level_id, status, address, postal_code,"
        " contact_name, contact_phone, contact_email, created_at, updated_at) "
        "SELECT '基准企业' || i, '', %s || lpad(i::text, 17, '0'), false, '11', 'C', '', "
        "'medium', %s, 'active', '', '', '', '', '', now(), now() "
        "FROM generate_series(1, %s) i RETURNING id",
        [prefix, level_id, count],
    )
    return sorted(r[0] for r in cursor.fetchall())


def responses(cursor, survey, *, company_ids: list[int], count: int, drafts: int, seed=0.5):
    """``count`` submitted responses and ``drafts`` drafts of the given companies, with answers
    to the impact survey's questions; returns the number of answers."""
    from cqa_portal.core.reference import REGION_GROUPS

    cursor.execute("SELECT setseed(%s)", [seed])
    regions = ", ".join(
        f"('{code}', '{group}')" for group, codes in REGION_GROUPS.items() for code in codes
    )
    divisions = [f"{section}|{division}" for section, division in DIVISIONS]
    first, last = company_ids[0], company_ids[count + drafts - 1]
    cursor.execute(
        "INSERT INTO surveys_response (survey_id, company_id, status, province, region_group, "  # noqa: S608
        "industry_section, industry_division, size_band, created_at, updated_at, submitted_at) "
        "SELECT %s, x.id, CASE WHEN x.rn <= %s THEN 'submitted' ELSE 'draft' END, "
        "x.province, g.region, split_part(x.division, '|', 1), split_part(x.division, '|', 2), "
        "x.size, now(), now(), CASE WHEN x.rn <= %s THEN now() END FROM ("
        f"  SELECT c.id, row_number() OVER (ORDER BY c.id) AS rn, {_pick(PROVINCES)} AS province,"
        f"  {_pick(divisions)} AS division, {_pick(SIZES)} AS size"
        "   FROM members_membercompany c WHERE c.id BETWEEN %s AND %s"
        f") x JOIN (VALUES {regions}) g(province, region) ON g.province = x.province",
        [survey.pk, count, count, first, last],
    )
    questions = {q.code: q for q in survey.questions.prefetch_related("options")}
    option = {(q.code, o.code): o.pk for q in questions.values() for o in q.options.all()}
    # One pick per response: impact (worse in Hubei and in mining), resumption.
    cursor.execute(
        "CREATE TEMP TABLE bench_pick ON COMMIT DROP AS "
        "SELECT r.id, r.status, least(0.999, random() + CASE WHEN r.region_group = 'hubei' "
        "THEN 0.25 WHEN r.industry_section = 'B' THEN 0.15 ELSE 0 END) AS degree, "
        "random() AS resumption FROM surveys_response r WHERE r.survey_id = %s",
        [survey.pk],
    )
    degree = (
        f"CASE WHEN p.degree < 0.15 THEN {option[('impact_degree', 'none')]} "
        f"WHEN p.degree < 0.45 THEN {option[('impact_degree', 'slight')]} "
        f"WHEN p.degree < 0.75 THEN {option[('impact_degree', 'moderate')]} "
        f"ELSE {option[('impact_degree', 'severe')]} END"
    )
    resumption = (
        f"CASE WHEN p.resumption < 0.35 THEN {option[('resumption', 'full')]} "
        f"WHEN p.resumption < 0.95 THEN {option[('resumption', 'partly')]} "
        f"ELSE {option[('resumption', 'not_resumed')]} END"
    )
    q = {code: question.pk for code, question in questions.items()}
    areas = ", ".join(str(option[("impact_areas", a)]) for a in AREAS)
    needs = ", ".join(str(option[("needs", n)]) for n in NEEDS)
    columns = (
        "INSERT INTO surveys_answer (response_id, question_id, option_id, number, text, date) "
    )
    # Ids and codes from this module and the survey's rows, never user input.
    sql = (
        columns + f"SELECT p.id, {q['impact_degree']}, {degree}, NULL::numeric, '', NULL::date "  # noqa: S608
        "FROM bench_pick p "
        f"UNION ALL SELECT p.id, {q['impact_areas']}, o, NULL, '', NULL FROM bench_pick p "
        f"CROSS JOIN unnest(ARRAY[{areas}]) o WHERE p.degree >= 0.15 AND random() < 0.4 "
        f"UNION ALL SELECT p.id, {q['resumption']}, {resumption}, NULL, '', NULL FROM bench_pick p "
        f"UNION ALL SELECT p.id, {q['full_resumption_date']}, NULL, NULL, '', "
        "date '2020-03-01' + floor(random() * 90)::int FROM bench_pick p "
        "WHERE p.resumption >= 0.35 "
        f"UNION ALL SELECT p.id, {q['staff_back_pct']}, NULL, floor(random() * 101), '', NULL "
        "FROM bench_pick p "
        f"UNION ALL SELECT p.id, {q['needs']}, o, NULL, '', NULL FROM bench_pick p "
        f"CROSS JOIN unnest(ARRAY[{needs}]) o WHERE random() < 0.5"
    )
    cursor.execute(sql)
    count_answers = cursor.rowcount
    cursor.execute("DROP TABLE bench_pick")
    return count_answers
