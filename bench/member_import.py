"""Importing 10,000 companies through the import-export resource vs bulk_create of the same rows.

Limit (issue 3): the import takes no more than 3x as long as bulk_create of the same validated
rows, measured in the same run. Each measurement runs in a transaction that is rolled back, so
the database is left as it was. Prints a table, then one JSON object as the last line.
"""

import json
import random
import statistics
import sys
import time

from _setup import Rollback, django_setup

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
REPEAT = 3
LIMIT = 3.0


def make_rows(n: int):
    from cqa_portal.core.reference import IndustrySection, Province
    from cqa_portal.core.validators import USCC_ALPHABET, uscc_check_char

    rng = random.Random(7)  # noqa: S311
    provinces, sections = Province.values, IndustrySection.values
    rows, seen = [], set()
    while len(rows) < n:
        province = rng.choice(provinces)
        body = "91" + province + "0100" + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
        code = body + uscc_check_char(body + "0")
        if code in seen:
            continue
        seen.add(code)
        rows.append(
            (
                f"基准测试公司{len(rows)}",
                code,
                province,
                rng.choice(sections),
                rng.choice(["micro", "small", "medium", "large"]),
                "ordinary",
                "2020-01-01",
                f"bench{len(rows)}@example.com",
            )
        )
    return rows


HEADERS = [
    "name",
    "uscc",
    "province",
    "industry_section",
    "size_band",
    "level",
    "member_since",
    "contact_email",
]


def time_import(rows) -> float:
    import tablib
    from django.db import transaction

    from members.models import MemberCompany
    from members.resources import CompanyResource, import_report

    dataset = tablib.Dataset(*rows, headers=HEADERS)
    try:
        with transaction.atomic():
            start = time.perf_counter()
            result = CompanyResource().import_data(
                dataset, dry_run=False, use_transactions=True, rollback_on_validation_errors=True
            )
            elapsed = time.perf_counter() - start
            if result.has_errors() or result.has_validation_errors():
                raise SystemExit("import failed: " + "; ".join(import_report(result)[:5]))
            imported = MemberCompany.objects.filter(name__startswith="基准测试公司").count()
            assert imported == len(rows), imported
            raise Rollback
    except Rollback:
        pass
    return elapsed


def time_bulk_create(rows) -> float:
    import datetime

    from django.db import transaction

    from members.models import MemberCompany, MembershipLevel

    level = MembershipLevel.objects.get(code="ordinary")
    instances = [
        MemberCompany(
            name=name,
            uscc=code,
            province=province,
            industry_section=section,
            size_band=size,
            level=level,
            member_since=datetime.date.fromisoformat(since),
            contact_email=email,
            status="active",
        )
        for name, code, province, section, size, _level, since, email in rows
    ]
    try:
        with transaction.atomic():
            start = time.perf_counter()
            MemberCompany.objects.bulk_create(instances, batch_size=1000)
            elapsed = time.perf_counter() - start
            raise Rollback
    except Rollback:
        pass
    return elapsed


def main() -> dict:
    django_setup()
    from django.db import connection

    rows = make_rows(ROWS)
    imports, bulks = [], []
    for _ in range(REPEAT):
        bulks.append(time_bulk_create(rows))
        imports.append(time_import(rows))
    t_import, t_bulk = statistics.median(imports), statistics.median(bulks)
    ratio = t_import / t_bulk
    figures = {
        "benchmark": "member_import",
        "database": connection.vendor,
        "rows": ROWS,
        "import_seconds": round(t_import, 3),
        "bulk_create_seconds": round(t_bulk, 3),
        "ratio": round(ratio, 2),
        "limit_ratio": LIMIT,
        "ratio_to_limit": round(ratio / LIMIT, 2),
        "within_limit": ratio <= LIMIT,
    }
    print(f"{'measure':<28}{'value':>12}")
    for key in ("rows", "import_seconds", "bulk_create_seconds", "ratio", "limit_ratio"):
        print(f"{key:<28}{figures[key]:>12}")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
