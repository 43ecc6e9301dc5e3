import datetime

import pytest
from django.utils import timezone

from pledges.models import Signature

from .factories import (
    AllianceFactory,
    AllianceMemberFactory,
    CoSignatureFactory,
    InitiativeItemFactory,
    LetterFactory,
    SignatureFactory,
)

pytestmark = pytest.mark.django_db


def _english(client):
    client.cookies["django_language"] = "en"
    return client


def test_open_letter_in_chinese(client, letter):
    response = client.get("/open-letter/")
    assert response.status_code == 200
    html = response.content.decode()
    assert letter.title in html
    assert "我们承诺<strong>质量第一</strong>。" in html  # Markdown rendered
    assert html.count("<li>承诺") == 3
    assert html.count("<li>倡议条目") == 3
    assert "签署倡议" in html  # the way to sign
    assert 'id="sign-enterprise"' in html and 'id="sign-individual"' in html


def test_open_letter_in_english_uses_english_versions(client, letter):
    html = _english(client).get("/open-letter/").content.decode()
    assert '<html lang="en">' in html
    assert letter.title_en in html
    assert "We put <strong>quality first</strong>." in html
    assert "Commitment" in html and "Initiative item" in html
    assert "Sign as an enterprise" in html


def test_english_falls_back_to_chinese_when_no_translation(client, letter):
    letter.body_en = ""
    letter.save()
    html = _english(client).get("/open-letter/").content.decode()
    assert "我们承诺<strong>质量第一</strong>。" in html


def test_no_letter_yet(client, db):
    response = client.get("/open-letter/")
    assert response.status_code == 200
    assert "尚未发布公开信" in response.content.decode()


def test_current_letter_is_the_latest_published_and_older_ones_keep_their_url(client, letter):
    newer = LetterFactory(slug="2021-letter", title="新的公开信", published_at=timezone.now())
    LetterFactory(slug="draft", title="草稿信", is_published=False)
    LetterFactory(
        slug="future",
        title="未来的信",
        published_at=timezone.now() + datetime.timedelta(days=3),
    )
    html = client.get("/open-letter/").content.decode()
    assert newer.title in html
    assert 'href="/open-letter/2020-letter/"' in html  # listed under earlier letters
    assert "草稿信" not in html and "未来的信" not in html

    older = client.get("/open-letter/2020-letter/")
    assert older.status_code == 200
    assert letter.title in older.content.decode()
    assert "协会此前发出的公开信" in older.content.decode()
    assert client.get("/open-letter/draft/").status_code == 404
    assert client.get("/open-letter/future/").status_code == 404


def test_script_in_letter_body_is_neutralised(client, letter):
    letter.body = (
        "正文<script>alert('x')</script>\n\n"
        '<img src=x onerror="alert(1)"> [链接](javascript:alert(1)) '
        '<a href="https://example.org" onclick="evil()">好链接</a>\n\n'
        "<iframe src='https://evil.example'></iframe><style>body{display:none}</style>"
    )
    letter.save()
    html = client.get("/open-letter/").content.decode()
    body = html.split('class="letter-body">', 1)[1].split("</div>", 1)[0]
    assert "<script" not in body and "alert('x')" not in body
    assert "onerror" not in body and "onclick" not in body
    assert "javascript:" not in body
    assert "<iframe" not in body and "<style" not in body and "<img" not in body
    assert 'href="https://example.org"' in body
    assert 'rel="noopener noreferrer nofollow"' in body


def test_script_in_commitment_and_title_is_escaped(client, letter):
    letter.title = "<script>alert(1)</script>标题"
    letter.save()
    commitment = letter.commitments.first()
    commitment.text = "<b onmouseover=alert(1)>承诺</b>"
    commitment.save()
    html = client.get("/open-letter/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;标题" in html
    assert "&lt;b onmouseover=alert(1)&gt;承诺&lt;/b&gt;" in html


def test_script_in_signature_names_shows_as_text(client, initiative, recount):
    SignatureFactory(
        initiative=initiative,
        kind="enterprise",
        organisation='<script>alert("org")</script>',
    )
    SignatureFactory(initiative=initiative, name="<img src=x onerror=alert(1)>")
    recount(initiative)
    for url in ["/open-letter/", f"/initiatives/{initiative.slug}/signatures/"]:
        html = client.get(url).content.decode()
        assert '<script>alert("org")</script>' not in html
        assert "&lt;script&gt;alert(&quot;org&quot;)&lt;/script&gt;" in html
        assert "<img src=x" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_letter_page_shows_live_counts_apart(client, initiative, recount):
    SignatureFactory.create_batch(3, initiative=initiative, kind="enterprise")
    SignatureFactory.create_batch(2, initiative=initiative)
    SignatureFactory(initiative=initiative, status=Signature.Status.PENDING, confirmed_at=None)
    SignatureFactory(initiative=initiative, is_hidden=True)
    recount(initiative)
    html = client.get("/open-letter/").content.decode()
    assert '<span class="stat-number" id="count-total">5</span>' in html
    assert 'id="count-enterprises">3<' in html
    assert 'id="count-individuals">2<' in html


def test_alliance_page(client):
    alliance = AllianceFactory()
    for n in range(3):
        InitiativeItemFactory(initiative=alliance.initiative, text=f"联盟倡议{n}")
    AllianceMemberFactory(alliance=alliance, name="中国质量协会", website="https://caq.example")
    AllianceMemberFactory(alliance=alliance, name="示例协会", is_sample=True)
    approved = CoSignatureFactory(alliance=alliance, organisation="已核实协会", status="approved")
    CoSignatureFactory(alliance=alliance, organisation="待审核协会")
    CoSignatureFactory(alliance=alliance, organisation="已拒绝协会", status="rejected")
    response = client.get("/alliance/")
    assert response.status_code == 200
    html = response.content.decode()
    assert alliance.name in html
    assert 'datetime="2020-03-13"' in html
    assert "2020年3月13日" in html
    assert "中国质量协会" in html and 'href="https://caq.example"' in html
    assert "示例数据" in html or "样例" in html
    assert html.count("<li>联盟倡议") == 3
    assert approved.organisation in html
    assert "待审核协会" not in html and "已拒绝协会" not in html

    english = _english(client).get("/alliance/").content.decode()
    assert alliance.name_en.replace("'", "&#x27;") in english
    assert "Member associations" in english
    assert "13 March 2020" in english or "March 13, 2020" in english


def test_alliance_page_without_alliance(client, db):
    assert client.get("/alliance/").status_code == 200
    assert client.get("/alliance/co-sign/").status_code == 404


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_every_public_page_renders(client, letter, lang):
    alliance = AllianceFactory()
    SignatureFactory(initiative=letter.initiative)
    client.cookies["django_language"] = lang
    for url in [
        "/open-letter/",
        "/open-letter/2020-letter/",
        f"/initiatives/{letter.initiative.slug}/sign/",
        f"/initiatives/{letter.initiative.slug}/sign/thanks/",
        f"/initiatives/{letter.initiative.slug}/signatures/",
        "/alliance/",
        "/alliance/co-sign/",
        "/alliance/co-sign/thanks/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        expected = "China Association for Quality" if lang == "en" else "中国质量协会"
        assert expected in response.content.decode()
    assert alliance.pk
