"""One-line fields refuse line breaks and control characters; multi-line fields refuse control
characters other than line breaks and tabs (issue "The portal as deployed", item 5, input)."""

import inspect
from html.parser import HTMLParser

import pytest
import tablib
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from cqa_portal.core.forms import TextCheckMixin
from cqa_portal.core.validators import validate_multi_line, validate_single_line
from tests.hostile import SETTINGS

SINGLE_LINE_MESSAGE = "此处只能填写一行文字，不能包含换行或控制字符。"
MULTI_LINE_MESSAGE = "此处文字包含无法保存的控制字符，请删除后再提交。"

BREAKS = ["\r\n", "\n", "\r", "\u2028", "\u2029", "\x85"]
CONTROLS = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x9f", "\t", "\x0b", "\x0c"]
# A character no one-line field takes.
FORBIDDEN_ONE_LINE = st.sampled_from(
    [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]] + ["\u2028", "\u2029"]
)
FORBIDDEN_MULTI_LINE = st.sampled_from(
    [chr(c) for c in [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]]
)
APPS = ["members", "pledges", "courses", "surveys"]


def _hostile(char: str) -> str:
    return f"正常公司{char}Bcc: victim@example.com"


# --- the validators --------------------------------------------------------------------------


@pytest.mark.parametrize("char", BREAKS + CONTROLS)
def test_one_line_refuses_breaks_and_controls(char):
    with pytest.raises(ValidationError) as caught:
        validate_single_line(_hostile(char))
    assert caught.value.code == "single_line"


@pytest.mark.parametrize("value", ["中国质量协会", "A & B (Beijing) Co., Ltd.", "𠮷野家", ""])
def test_one_line_accepts_ordinary_names(value):
    validate_single_line(value)


@pytest.mark.parametrize("value", ["第一行\n第二行", "a\r\nb\tc", "段落\u2028分隔"])
def test_multi_line_keeps_line_breaks_and_tabs(value):
    validate_multi_line(value)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x7f", "\x85"])
def test_multi_line_refuses_other_controls(char):
    with pytest.raises(ValidationError):
        validate_multi_line(f"text{char}more")


@SETTINGS
@given(prefix=st.text(max_size=20), char=FORBIDDEN_ONE_LINE, suffix=st.text(max_size=20))
def test_one_line_refuses_any_control_anywhere(prefix, char, suffix):
    with pytest.raises(ValidationError):
        validate_single_line(prefix + char + suffix)


@SETTINGS
@given(prefix=st.text(max_size=20), char=FORBIDDEN_MULTI_LINE, suffix=st.text(max_size=20))
def test_multi_line_refuses_any_other_control_anywhere(prefix, char, suffix):
    with pytest.raises(ValidationError):
        validate_multi_line(prefix + char + suffix)


# --- every field and every form carries them ------------------------------------------------


def _text_fields():
    for app in APPS:
        for model in apps.get_app_config(app).get_models():
            for field in model._meta.concrete_fields:
                if not isinstance(field, models.CharField | models.TextField):
                    continue
                if isinstance(field, models.SlugField | models.URLField | models.EmailField):
                    continue  # their own validators refuse every control character
                if field.choices or not field.editable:
                    continue
                yield model, field


def test_every_text_model_field_has_the_validator():
    missing = []
    for model, field in _text_fields():
        wanted = (
            validate_multi_line if isinstance(field, models.TextField) else validate_single_line
        )
        if wanted not in field.validators:
            missing.append(f"{model.__name__}.{field.name}")
    assert not missing, missing


def test_every_portal_form_refuses_control_characters():
    import importlib

    from django import forms

    offenders = []
    for name in [f"{app}.{part}" for app in APPS for part in ("forms", "admin")] + [
        "cqa_portal.core.forms"
    ]:
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                cls.__module__ == name
                and issubclass(cls, forms.BaseForm)
                and not issubclass(cls, TextCheckMixin)
                and cls is not TextCheckMixin
            ):
                offenders.append(f"{name}.{cls.__name__}")
    assert not offenders, offenders


# --- public and member forms: the message, and nothing written ------------------------------


def _shows(response, message=SINGLE_LINE_MESSAGE):
    assert response.status_code in (200, 400), response.status_code
    assert message in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("char", BREAKS + ["\x00", "\x1b", "\t"])
def test_individual_signature_refuses_a_name_with_a_break(client, char):
    from pledges.models import Signature
    from tests.pledges.factories import InitiativeFactory

    initiative = InitiativeFactory(accepts_signatures=True)
    response = client.post(
        reverse("pledges:sign", kwargs={"slug": initiative.slug}),
        {
            "kind": "individual",
            "ind-name": _hostile(char),
            "ind-organisation": "某公司",
            "ind-email": "signer@example.com",
            "ind-province": "11",
            "ind-privacy_consent": "on",
        },
    )
    _shows(response, "不能包含换行" if char != "\x00" else "")
    assert not Signature.objects.exists()


@pytest.mark.django_db
def test_course_visitor_registration_refuses_an_organisation_with_a_break(client):
    from courses.models import Registration
    from tests.courses.factories import SessionFactory

    session = SessionFactory()
    response = client.post(
        reverse("courses:register", kwargs={"pk": session.pk}),
        {
            "name": "张三",
            "email": "z@example.com",
            "organisation": _hostile("\r\n"),
            "privacy_consent": "on",
        },
    )
    _shows(response)
    assert not Registration.objects.exists()


def _application(**overrides):
    from tests.members.factories import level, make_uscc

    return {
        "name": "新质量有限公司",
        "uscc": make_uscc("11"),
        "province": "11",
        "industry_section": "C",
        "size_band": "medium",
        "level": level().pk,
        "contact_name": "李四",
        "contact_email": "li@example.com",
        "privacy_consent": "on",
        **overrides,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", _hostile("\r\n"), SINGLE_LINE_MESSAGE),
        ("contact_name", "李四\n", None),  # a break at the end is trimmed: accepted
        ("contact_name", "李\u2028四", SINGLE_LINE_MESSAGE),
        ("address", "北京\x1b市", SINGLE_LINE_MESSAGE),
        ("message", "第一行\x07", MULTI_LINE_MESSAGE),
    ],
)
def test_membership_application_refuses_control_characters(client, field, value, message):
    from members.models import MemberCompany
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    response = client.post(reverse("members:apply"), _application(**{field: value}))
    if message is None:
        assert response.status_code == 302
        return
    _shows(response, message)
    assert not MemberCompany.objects.exists()


@pytest.mark.django_db
def test_membership_application_keeps_line_breaks_in_the_message(client):
    from members.models import MembershipApplication
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    response = client.post(reverse("members:apply"), _application(message="第一行\r\n第二行"))
    assert response.status_code == 302
    assert MembershipApplication.objects.get().message == "第一行\r\n第二行"


@pytest.mark.django_db
def test_company_profile_refuses_a_name_with_a_break(client):
    from tests.members.factories import MembershipFactory

    membership = MembershipFactory()
    client.force_login(membership.user)
    page = client.get(reverse("members:profile"))
    data = _form_data(page.content.decode())
    data["contact_name"] = "王五\r\nBcc: x@example.com"
    response = client.post(reverse("members:profile"), data)
    _shows(response)
    membership.company.refresh_from_db()
    assert "\n" not in membership.company.contact_name


@pytest.mark.django_db
def test_signup_refuses_a_name_with_a_break(client):
    from django.contrib.auth import get_user_model

    response = client.post(
        reverse("account_signup"),
        {
            "email": "new@example.com",
            "name": "赵六\r\nBcc: x@example.com",
            "password1": "a-long-unusual-passphrase-42",
            "password2": "a-long-unusual-passphrase-42",
            "privacy_consent": "on",
        },
    )
    _shows(response)
    assert not get_user_model().objects.filter(email="new@example.com").exists()


# --- the admin change forms -----------------------------------------------------------------


class _FormReader(HTMLParser):
    """The values a browser would send for the first form with method=post on a page."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._in_form = False
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post" and "id" in a:
            self._in_form = a["id"].endswith("_form")
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in {"submit", "button", "file", "image"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            self.data.setdefault(name, []).append(
                a.get("value", "on" if kind == "checkbox" else "")
            )
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                self.data.setdefault(self._select, []).append(value)
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select" and self._select:
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][-1] += data


def _form_data(html: str) -> dict:
    reader = _FormReader()
    reader.feed(html)
    if not reader.data:  # a portal form: the first POST form of the main content
        main = html.split('<main id="main"', 1)[1]
        main = main.replace("<form", '<form id="page_form"', 1)
        reader = _FormReader()
        reader.feed(main)
    data = {k: (v if len(v) > 1 else v[0]) for k, v in reader.data.items()}
    data.pop("csrfmiddlewaretoken", None)
    return data


def _admin_change(staff_client, obj, field, value):
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    data = _form_data(staff_client.get(url).content.decode())
    assert field in data, sorted(data)
    data[field] = value
    data["_save"] = "Save"
    return staff_client.post(url, data)


@pytest.mark.django_db
def test_admin_company_change_refuses_a_name_with_a_break(staff_client):
    from tests.members.factories import CompanyFactory

    company = CompanyFactory()
    before = company.name
    response = _admin_change(staff_client, company, "name", _hostile("\r\n"))
    _shows(response)
    company.refresh_from_db()
    assert company.name == before
    # The same form saves an ordinary change (the data read from the page is complete).
    response = _admin_change(staff_client, company, "name", "改名后的公司")
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.name == "改名后的公司"


@pytest.mark.django_db
def test_admin_session_change_refuses_a_title_with_a_break(staff_client):
    from tests.courses.factories import SessionFactory

    session = SessionFactory()
    before = session.title
    response = _admin_change(staff_client, session, "title", "新标题\nX-Injected: 1")
    _shows(response)
    session.refresh_from_db()
    assert session.title == before
    response = _admin_change(staff_client, session, "description", "第一段\x07")
    _shows(response, MULTI_LINE_MESSAGE)


@pytest.mark.django_db
def test_admin_application_decision_refuses_control_characters_in_the_note(staff_client):
    from members.models import MembershipApplication
    from tests.factories import UserFactory
    from tests.members.factories import CompanyFactory

    application = MembershipApplication.objects.create(
        applicant=UserFactory(), company=CompanyFactory(status="applicant")
    )
    url = reverse("admin:members_membershipapplication_decide", args=[application.pk])
    response = staff_client.post(url, {"decision": "approve", "note": "同意\x07"})
    _shows(response, MULTI_LINE_MESSAGE)
    application.refresh_from_db()
    assert application.status == MembershipApplication.Status.PENDING


# --- imports ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("char", ["\r\n", "\n", "\x00", "\u2028"])
def test_company_import_with_a_broken_name_is_refused_with_its_row(char):
    from members.models import MemberCompany
    from members.resources import CompanyResource, import_report
    from tests.members.factories import level, make_uscc

    level()
    headers = ["name", "uscc", "province", "industry_section", "size_band", "level"]
    dataset = tablib.Dataset(
        ["好公司", make_uscc("11"), "11", "C", "medium", "ordinary"],
        [_hostile(char), make_uscc("11"), "11", "C", "medium", "ordinary"],
        headers=headers,
    )
    result = CompanyResource().import_data(
        dataset, dry_run=False, use_transactions=True, rollback_on_validation_errors=True
    )
    assert result.has_validation_errors()
    report = "\n".join(import_report(result))
    # Rows as the spreadsheet numbers them: the header is row 1, the broken name is on row 3.
    assert any(line.startswith("第 3 行") and "不能包含换行" in line for line in report.split("\n"))
    assert not any(line.startswith("第 2 行") for line in report.split("\n")), report
    assert not MemberCompany.objects.exists()


@pytest.mark.django_db
def test_alliance_member_import_with_a_broken_name_is_refused_with_its_row():
    from pledges.exports import AllianceMemberResource
    from pledges.models import AllianceMember
    from tests.pledges.factories import AllianceFactory

    alliance = AllianceFactory(slug="resumption-alliance")
    dataset = tablib.Dataset(
        [alliance.slug, "甲协会", "2020-03-13"],
        [alliance.slug, "乙协会\r\nBcc: x@example.com", "2020-03-13"],
        headers=["alliance", "name", "joined_on"],
    )
    result = AllianceMemberResource().import_data(
        dataset, dry_run=False, use_transactions=True, rollback_on_validation_errors=True
    )
    assert result.has_validation_errors()
    rows = [(row.number, str(row.error_dict)) for row in result.invalid_rows]
    assert [number for number, _ in rows] == [2], rows
    assert "不能包含换行" in rows[0][1]
    assert not AllianceMember.objects.filter(alliance=alliance).exists()
