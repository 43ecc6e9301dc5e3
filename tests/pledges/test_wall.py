"""The public signature wall, counts, moderation, and fixed query counts."""

import re
import secrets

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cqa_portal.core.models import AuditEntry
from pledges import services
from pledges.models import Signature, SignatureTally

from .factories import AllianceFactory, AllianceMemberFactory, CoSignatureFactory, SignatureFactory

pytestmark = pytest.mark.django_db


def wall(client, initiative, query=""):
    return client.get(f"/initiatives/{initiative.slug}/signatures/{query}")


def test_wall_lists_only_confirmed_visible_opted_in_newest_first(client, initiative, recount):
    now = timezone.now()
    SignatureFactory(initiative=initiative, name="较早的人", confirmed_at=now.replace(year=2020))
    SignatureFactory(initiative=initiative, name="最新的人", confirmed_at=now)
    SignatureFactory(initiative=initiative, name="不公开的人", show_name=False)
    SignatureFactory(initiative=initiative, name="未确认的人", status="pending", confirmed_at=None)
    SignatureFactory(initiative=initiative, name="被隐藏的人", is_hidden=True)
    SignatureFactory(name="别的倡议的人")
    recount(initiative)
    html = wall(client, initiative).content.decode()
    assert html.index("最新的人") < html.index("较早的人")
    for hidden in ["不公开的人", "未确认的人", "被隐藏的人", "别的倡议的人"]:
        assert hidden not in html
    assert 'id="count-total">3<' in html  # opted-out names still count


def test_wall_filters_by_kind_and_province_and_shows_counts(client, initiative, recount):
    SignatureFactory(
        initiative=initiative, kind="enterprise", organisation="湖北企业", province="42"
    )
    SignatureFactory(
        initiative=initiative, kind="enterprise", organisation="广东企业", province="44"
    )
    SignatureFactory(initiative=initiative, name="湖北个人", province="42")
    SignatureFactory(initiative=initiative, name="北京个人", province="11")
    recount(initiative)
    html = wall(client, initiative, "?kind=enterprise").content.decode()
    assert "湖北企业" in html and "广东企业" in html
    assert "湖北个人" not in html and "北京个人" not in html
    html = wall(client, initiative, "?province=42").content.decode()
    assert "湖北企业" in html and "湖北个人" in html and "广东企业" not in html
    html = wall(client, initiative, "?kind=individual&province=42").content.decode()
    assert "湖北个人" in html and "湖北企业" not in html
    assert "共 1 位签名者同意公开显示名称" in html

    # Counts by province: Hubei 1 + 1, Guangdong 1 + 0, Beijing 0 + 1, largest first.
    table = html.split('id="province-counts"', 1)[1].split("</table>", 1)[0]
    assert table.index("湖北") < table.index("广东")
    assert re.search(
        r'湖北[^<]*</th><td class="text-end">1</td><td class="text-end">1</td>'
        r'<td class="text-end">2</td>',
        table,
    )
    assert 'id="count-enterprises">2<' in html and 'id="count-individuals">2<' in html

    # Unknown filter values are ignored rather than failing.
    assert wall(client, initiative, "?kind=robot&province=99&page=abc").status_code == 200


def test_wall_paginates(client, initiative, recount, settings):
    settings.PLEDGES_WALL_PAGE_SIZE = 5
    for n in range(12):
        SignatureFactory(initiative=initiative, name=f"签名者{n:02d}")
    recount(initiative)
    first = wall(client, initiative).content.decode()
    assert "第 1 页，共 3 页" in first and first.count('class="sig-name"') == 5
    last = wall(client, initiative, "?page=3").content.decode()
    assert last.count('class="sig-name"') == 2
    beyond = wall(client, initiative, "?page=99").content.decode()
    assert "第 3 页，共 3 页" in beyond
    filtered = wall(client, initiative, "?province=42&page=2").content.decode()
    assert 'href="?province=42&amp;page=1"' in filtered


def test_hidden_signatures_vanish_from_counts_and_wall_and_come_back(client, initiative, recount):
    from tests.factories import StaffFactory

    staff = StaffFactory()
    target = SignatureFactory(initiative=initiative, name="不当内容", kind="enterprise")
    SignatureFactory(initiative=initiative, name="正常签名")
    recount(initiative)
    assert 'id="count-total">2<' in wall(client, initiative).content.decode()

    assert (
        services.signatures_set_hidden(
            signature_ids=[target.pk], hidden=True, actor=staff, reason="广告"
        )
        == 1
    )
    html = wall(client, initiative).content.decode()
    assert "不当内容" not in html and 'id="count-total">1<' in html
    assert 'id="count-enterprises">0<' in html
    entry = AuditEntry.objects.get(action="pledges.signature.hidden")
    assert entry.actor == staff and entry.detail == "广告"
    assert "不当内容" not in entry.object_repr  # no personal data in the audit log

    # Hiding twice changes nothing; showing restores the count.
    assert services.signatures_set_hidden(signature_ids=[target.pk], hidden=True, actor=staff) == 0
    services.signatures_set_hidden(signature_ids=[target.pk], hidden=False, actor=staff)
    assert 'id="count-total">2<' in wall(client, initiative).content.decode()


def test_tally_stays_exact_through_every_change(initiative, recount):
    """Counters kept in step by the services equal a recount from the table."""
    from tests.factories import StaffFactory

    staff = StaffFactory()
    pending = [
        services.signature_sign(
            initiative=initiative,
            data=services.SignatureInput(
                kind="enterprise" if n % 3 == 0 else "individual",
                name=f"人{n}",
                organisation="单位",
                title="职务",
                email=f"t{n}@example.com",
                province=["42", "44", "11"][n % 3],
                show_name=n % 2 == 0,
            ),
        )[0]
        for n in range(12)
    ]
    for signature in pending[:10]:
        services.signature_confirm(signature_id=signature.pk, link_key=signature.link_key)
    services.signatures_set_hidden(signature_ids=[pending[0].pk, pending[11].pk], hidden=True,
                                   actor=staff)  # fmt: skip
    services.signature_withdraw(signature_id=pending[1].pk, link_key=pending[1].link_key)
    services.signature_withdraw(signature_id=pending[0].pk, link_key=pending[0].link_key)
    services.signatures_erase(signature_ids=[pending[2].pk], actor=staff)
    services.signature_confirm(signature_id=pending[11].pk, link_key=pending[11].link_key)
    services.signatures_set_hidden(signature_ids=[pending[11].pk], hidden=False, actor=staff)

    live = sorted(SignatureTally.objects.filter(initiative=initiative).values_list(
        "kind", "province", "confirmed", "public"))  # fmt: skip
    recount(initiative)
    rebuilt = sorted(SignatureTally.objects.filter(initiative=initiative).values_list(
        "kind", "province", "confirmed", "public"))  # fmt: skip
    assert [row for row in live if row[2] or row[3]] == rebuilt
    assert sum(row[2] for row in rebuilt) == 8  # 10 confirmed + 1 - 3 gone
    assert not any(row[2] < 0 or row[3] < 0 for row in live)


def _bulk(initiative, count):
    provinces = ["11", "31", "42", "44", "51", "65"]
    now = timezone.now()
    Signature.objects.bulk_create(
        Signature(
            initiative=initiative,
            kind="enterprise" if n % 4 == 0 else "individual",
            status="confirmed",
            name=f"批量签名{n}",
            organisation=f"单位{n}",
            province=provinces[n % len(provinces)],
            email=f"bulk{n}@example.com",
            show_name=n % 5 != 0,
            link_key=secrets.token_urlsafe(12),
            confirmed_at=now,
        )
        for n in range(count)
    )
    services.tally_rebuild(initiative_id=initiative.pk)


def _queries(client, url):
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


PAGES = {
    "open letter": "/open-letter/",
    "wall": "/initiatives/{slug}/signatures/",
    "wall filtered": "/initiatives/{slug}/signatures/?kind=individual&province=31",
    "wall page 2": "/initiatives/{slug}/signatures/?kind=individual&page=2",
    "alliance": "/alliance/",
}
# Anonymous visitor: the page's reads only (no session, no user).
EXPECTED_QUERIES = {
    "open letter": 6,
    "wall": 3,
    "wall filtered": 3,
    "wall page 2": 3,
    "alliance": 4,
}


@pytest.mark.parametrize("page", ["open letter", "wall", "wall filtered", "alliance"])
def test_query_count_does_not_grow_with_signatures(
    client, initiative, page, django_assert_num_queries
):
    alliance = AllianceFactory()
    url = PAGES[page].format(slug=initiative.slug)
    _bulk(initiative, 2)
    AllianceMemberFactory(alliance=alliance)
    CoSignatureFactory(alliance=alliance, status="approved")
    few = _queries(client, url)
    Signature.objects.filter(initiative=initiative).delete()
    _bulk(initiative, 20)
    AllianceMemberFactory.create_batch(15, alliance=alliance)
    CoSignatureFactory.create_batch(5, alliance=alliance, status="approved")
    with django_assert_num_queries(few):
        client.get(url)
    assert few == EXPECTED_QUERIES[page]


@pytest.mark.parametrize("page", ["open letter", "wall", "wall filtered", "wall page 2"])
def test_query_count_fixed_with_ten_thousand_signatures(
    client, initiative, page, django_assert_num_queries
):
    _bulk(initiative, 10_000)
    url = PAGES[page].format(slug=initiative.slug)
    with django_assert_num_queries(EXPECTED_QUERIES[page]):
        response = client.get(url)
    html = response.content.decode()
    assert 'id="count-total">10000<' in html
    assert 'id="count-enterprises">2500<' in html
    # No COUNT over the signature table on a public page.
    with CaptureQueriesContext(connection) as context:
        client.get(url)
    signature_table = [
        q["sql"] for q in context.captured_queries if 'pledges_signature"' in q["sql"]
    ]
    assert not any("COUNT(" in sql.upper() for sql in signature_table)
