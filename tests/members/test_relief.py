import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cqa_portal.core.models import AuditEntry
from members.models import MembershipFee, ReliefDocument, ReliefRequest

from .factories import FeeFactory, MembershipFactory, ReliefFactory, reason

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _reasons(*codes):
    return [reason(code).pk for code in codes or ["production"]]


def _post(client, action="submit", url="/members/relief/new/", **overrides):
    data = {
        "year": "2020",
        "kind": "waiver",
        "reasons": _reasons("production", "sales"),
        "explanation": "一季度停产",
        action: "1",
    }
    data.update(overrides)
    return client.post(url, data)


def test_admin_files_and_submits_a_waiver_with_a_document(
    client, admin_member, django_capture_on_commit_callbacks, mailoutbox
):
    client.force_login(admin_member.user)
    upload = SimpleUploadedFile("证明.pdf", PDF, content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, documents=[upload])
    relief = ReliefRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/members/relief/{relief.pk}/"
    assert relief.status == ReliefRequest.Status.SUBMITTED
    assert relief.submitted_at is not None
    assert set(relief.reasons.values_list("code", flat=True)) == {"production", "sales"}
    document = relief.documents.get()
    assert document.content_type == "application/pdf"
    assert "/media/" not in document.file.path
    assert [m.to[0] for m in mailoutbox] == [admin_member.user.email]  # receipt
    page = client.get(f"/members/relief/{relief.pk}/").content.decode()
    assert "已提交" in page
    assert "证明.pdf" in page


def test_save_draft_then_submit_later(client, admin_member):
    client.force_login(admin_member.user)
    _post(client, action="save", reasons=[])
    relief = ReliefRequest.objects.get()
    assert relief.status == ReliefRequest.Status.DRAFT
    # Submitting without reasons is refused with a clear message.
    response = client.post(f"/members/relief/{relief.pk}/submit/", follow=True)
    assert "请至少选择一项原因" in response.content.decode()
    relief.refresh_from_db()
    assert relief.status == ReliefRequest.Status.DRAFT
    _post(client, url=f"/members/relief/{relief.pk}/edit/")
    relief.refresh_from_db()
    assert relief.status == ReliefRequest.Status.SUBMITTED


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"kind": "reduction", "requested_amount": "-10"}, "确保该值大于或等于"),
        (
            {"kind": "reduction", "requested_amount": "5000"},
            "减免金额不能超过尚需缴纳的 3000.00 元",
        ),
        ({"kind": "reduction"}, "请填写申请减免的金额"),
        ({"kind": "deferral", "deferral_until": "2000-01-01"}, "新的日期必须晚于当前缴费截止日期"),
        ({"year": "2019"}, "选择一个有效的选项"),
    ],
)
def test_bad_relief_input_is_refused_and_saves_nothing(client, admin_member, overrides, message):
    client.force_login(admin_member.user)
    response = _post(client, **overrides)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ReliefRequest.objects.exists()


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("page.pdf", b"<html><script>alert(1)</script></html>", "不是 PDF、JPG 或 PNG 文件"),
        ("photo.png", PDF, "不是 PDF、JPG 或 PNG 文件"),
        ("big.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024), "大于 5 MB"),
    ],
)
def test_disguised_or_oversize_documents_are_refused(client, admin_member, name, content, message):
    client.force_login(admin_member.user)
    response = _post(client, documents=[SimpleUploadedFile(name, content)])
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ReliefRequest.objects.exists()
    assert not ReliefDocument.objects.exists()


def test_second_open_request_for_the_same_year_is_refused(client, admin_member):
    ReliefFactory(company=admin_member.company)
    client.force_login(admin_member.user)
    response = _post(client)
    assert "该年度已有一份未结束的减免申请" in response.content.decode()
    assert ReliefRequest.objects.count() == 1


def test_withdraw_before_decision(client, admin_member):
    relief = ReliefFactory(company=admin_member.company)
    client.force_login(admin_member.user)
    client.post(f"/members/relief/{relief.pk}/withdraw/")
    relief.refresh_from_db()
    assert relief.status == ReliefRequest.Status.WITHDRAWN
    entry = AuditEntry.objects.get(action="members.relief.withdrawn")
    assert (entry.actor, entry.from_state, entry.to_state) == (
        admin_member.user,
        "submitted",
        "withdrawn",
    )
    # Now a new request for the year may be filed.
    _post(client)
    assert ReliefRequest.objects.filter(status="submitted").count() == 1


def _decide(client, relief, decision, note="经审核同意", amount=""):
    return client.post(
        f"/admin/members/reliefrequest/{relief.pk}/decide/",
        {"decision": decision, "note": note, "granted_amount": amount},
    )


def test_approved_waiver_waives_the_fee_and_mails_the_admin(
    client, admin_member, staff, django_capture_on_commit_callbacks, mailoutbox
):
    relief = ReliefFactory(company=admin_member.company)
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = _decide(client, relief, "approved")
    assert response.status_code == 302
    relief.refresh_from_db()
    fee = MembershipFee.objects.get(company=admin_member.company)
    assert relief.status == ReliefRequest.Status.APPROVED
    assert relief.granted_amount == Decimal("3000.00")
    assert fee.status == MembershipFee.Status.WAIVED
    assert fee.relief_amount == Decimal("3000.00")
    assert [m.to[0] for m in mailoutbox] == [admin_member.user.email]
    assert "已批准" in mailoutbox[0].subject
    assert "经审核同意" in mailoutbox[0].body
    # The company sees the decision and the history.
    client.force_login(admin_member.user)
    page = client.get(f"/members/relief/{relief.pk}/").content.decode()
    assert "经审核同意" in page
    assert "已提交 → 已批准" in page and "submitted" not in page.split("history-heading")[1]


def test_partial_approval_requires_an_amount_below_the_request(client, admin_member, staff):
    relief = ReliefFactory(company=admin_member.company)
    client.force_login(staff)
    response = _decide(client, relief, "partly_approved", amount="")
    assert "请填写批准的减免金额" in response.content.decode()
    response = _decide(client, relief, "partly_approved", amount="3000")
    assert "部分批准的减免金额应少于申请的 3000.00 元" in response.content.decode()
    relief.refresh_from_db()
    assert relief.status == ReliefRequest.Status.SUBMITTED
    _decide(client, relief, "partly_approved", amount="1000")
    fee = MembershipFee.objects.get(company=admin_member.company)
    assert fee.relief_amount == Decimal("1000.00")
    assert fee.outstanding == Decimal("2000.00")


def test_rejection_needs_a_note_and_leaves_the_fee(client, admin_member, staff):
    relief = ReliefFactory(company=admin_member.company)
    client.force_login(staff)
    response = _decide(client, relief, "rejected", note="")
    assert response.status_code == 200
    relief.refresh_from_db()
    assert relief.status == ReliefRequest.Status.SUBMITTED
    _decide(client, relief, "rejected", note="材料不足")
    relief.refresh_from_db()
    assert relief.status == ReliefRequest.Status.REJECTED
    assert MembershipFee.objects.get(company=admin_member.company).relief_amount == 0


def test_approved_deferral_moves_the_due_date(client, admin_member, staff):
    new_date = timezone.localdate() + datetime.timedelta(days=200)
    relief = ReliefFactory(company=admin_member.company, kind="deferral", deferral_until=new_date)
    client.force_login(staff)
    _decide(client, relief, "approved")
    assert MembershipFee.objects.get(company=admin_member.company).due_date == new_date


def test_decided_request_cannot_be_decided_again_or_withdrawn(client, admin_member, staff):
    relief = ReliefFactory(company=admin_member.company)
    client.force_login(staff)
    _decide(client, relief, "rejected", note="不符合条件")
    response = _decide(client, relief, "approved")
    assert "不能这样更改" in response.content.decode()
    client.force_login(admin_member.user)
    client.post(f"/members/relief/{relief.pk}/withdraw/")
    relief.refresh_from_db()
    assert relief.status == ReliefRequest.Status.REJECTED


def test_staff_queue_pending_first_with_filters_and_history(client, admin_member, staff):
    decided = ReliefFactory(company=admin_member.company, status="rejected", year=2019)
    FeeFactory(company=admin_member.company, year=2019)
    pending = ReliefFactory(company=admin_member.company)
    other = ReliefFactory(status="under_review")
    client.force_login(staff)
    response = client.get("/admin/members/reliefrequest/")
    rows = list(response.context["cl"].result_list)
    assert rows[-1] == decided
    assert set(rows[:2]) == {pending, other}
    for query in [
        "?year=2020",
        "?status__exact=submitted",
        f"?company__province__exact={admin_member.company.province}",
        "?company__industry_section__exact=C",
        f"?reasons__id__exact={reason('production').pk}",
        "?queue=pending",
    ]:
        assert client.get("/admin/members/reliefrequest/" + query).status_code == 200
    page = client.get(f"/admin/members/reliefrequest/{pending.pk}/change/").content.decode()
    assert "2019" in page  # fee history and the earlier request
    assert f"/admin/members/reliefrequest/{decided.pk}/change/" in page


def test_start_review_action(client, admin_member, staff):
    relief = ReliefFactory(company=admin_member.company)
    client.force_login(staff)
    client.post(
        "/admin/members/reliefrequest/",
        {"action": "start_review", "_selected_action": [relief.pk]},
    )
    relief.refresh_from_db()
    assert relief.status == ReliefRequest.Status.UNDER_REVIEW


def test_documents_served_as_attachments_to_company_and_staff_only(
    client, admin_member, other_member, staff
):
    client.force_login(admin_member.user)
    _post(client, documents=[SimpleUploadedFile("a.pdf", PDF)])
    document = ReliefDocument.objects.get()
    url = f"/members/relief/{document.request_id}/documents/{document.pk}/"
    colleague = MembershipFactory(company=admin_member.company, role="colleague")
    for user, status in [
        (admin_member.user, 200),
        (colleague.user, 200),
        (staff, 200),
        (other_member.user, 404),
    ]:
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == status
        if status == 200:
            assert response["Content-Disposition"].startswith("attachment")
            assert response["X-Content-Type-Options"] == "nosniff"
            assert b"".join(response.streaming_content) == PDF
    client.logout()
    assert client.get(url).status_code == 302
