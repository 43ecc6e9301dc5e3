"""History in words: every audit action in the code has a label; staff and members see labels
and state names, never codes; the translations the issue named are fixed."""

import ast
from pathlib import Path

import pytest
from django.utils import translation

from cqa_portal.core import history
from cqa_portal.core.models import AuditEntry, OutboxMessage
from cqa_portal.core.services import audit_log
from members.models import MembershipApplication, ReliefRequest
from tests.members.factories import ReliefFactory

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    p
    for app in ("cqa_portal", "members", "pledges", "surveys", "courses")
    for p in (ROOT / app).rglob("*.py")
    if "migrations" not in p.parts
]
AUDIT_CALLS = {"audit_log", "audit_entry", "audit_log_select"}


def _action_codes():
    """(literal codes, prefixes of f-string codes) passed as ``action=`` to the audit log."""
    literal, prefixes = set(), set()

    def collect(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            literal.add(node.value)
        elif isinstance(node, ast.IfExp):
            collect(node.body)
            collect(node.orelse)
        elif isinstance(node, ast.JoinedStr):
            head = node.values[0]
            prefixes.add(head.value if isinstance(head, ast.Constant) else "")
        else:
            raise AssertionError(f"unexpected action expression: {ast.dump(node)}")

    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name not in AUDIT_CALLS:
                continue
            for keyword in node.keywords:
                if keyword.arg == "action" and not isinstance(keyword.value, ast.Name):
                    collect(keyword.value)
    return literal, prefixes


def test_every_action_code_in_the_code_has_a_label():
    literal, prefixes = _action_codes()
    assert len(literal) > 25 and len(prefixes) > 5
    assert history.unlabelled(literal) == []
    labels = history.actions()
    for prefix in prefixes:
        assert prefix.count(".") >= 1, prefix
        assert any(code.startswith(prefix) for code in labels), f"no label for {prefix}…"
    # The state-named actions have a label for every state their model can be in.
    for status in ReliefRequest.Status.values:
        assert f"members.relief.{status}" in labels
    for verb in ("registered", "confirmed"):  # courses.registration.{action} from _place
        assert f"courses.registration.{verb}" in labels


@pytest.mark.django_db
def test_labels_and_state_names_in_chinese_and_english():
    relief = ReliefFactory(status="submitted")
    entry = audit_log(
        actor=None, action="members.relief.submitted", obj=relief, from_state="draft",
        to_state="submitted",
    )  # fmt: skip
    assert entry.action_label == "会费减免申请：已提交"
    assert (entry.from_label, entry.to_label) == ("草稿", "已提交")
    with translation.override("en"):
        assert entry.action_label == "Fee-relief request: Submitted"
        assert (entry.from_label, entry.to_label) == ("Draft", "Submitted")
    # A value that is not a state is shown as it is.
    assert history.state_label(ReliefRequest, "2020-03-01") == "2020-03-01"
    assert history.action_label("unknown.code.here") == "unknown.code.here"


@pytest.mark.django_db
def test_staff_history_shows_words_not_codes(admin_client, django_capture_on_commit_callbacks):
    relief = ReliefFactory(status="submitted")
    audit_log(
        actor=None, action="members.relief.submitted", obj=relief, from_state="draft",
        to_state="submitted",
    )  # fmt: skip
    page = admin_client.get(f"/admin/members/reliefrequest/{relief.pk}/change/").content.decode()
    assert "会费减免申请：已提交" in page and "草稿" in page
    assert "members.relief.submitted" not in page
    log = admin_client.get("/admin/core/auditentry/").content.decode()
    table = log.split("<tbody")[1].split("</tbody>")[0]
    assert "会费减免申请：已提交" in table and "members.relief.submitted" not in table


def test_pending_has_its_own_word_for_applications_and_for_mail():
    with translation.override("zh-hans"):
        assert str(MembershipApplication.Status.PENDING.label) == "待审核"
        assert str(OutboxMessage.Status.PENDING.label) == "待发送"


@pytest.mark.django_db
def test_admin_index_names_the_fee_list_apart_from_its_app(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert page.count(">会员与会费</a>") == 1  # the app, not also its fee list
    assert '<a href="/admin/members/membershipfee/">会费</a>' in page


@pytest.mark.django_db
def test_alliance_table_heads_its_association_column(client):
    from tests.pledges.factories import AllianceMemberFactory

    AllianceMemberFactory()
    page = client.get("/alliance/").content.decode()
    assert '<th scope="col">成员协会</th>' in page
    assert "姓名" not in page


def test_audit_entry_str_in_words():
    entry = AuditEntry(action="pledges.cosignature.applied", object_repr="某协会")
    with translation.override("zh-hans"):
        assert str(entry) == "已申请联署 某协会"
