"""Every change of a fee's or a company's status or money goes through a service and leaves an
audit entry (who, when, from, to, why): imports, the overdue sweep and admin edits included."""

import datetime
from decimal import Decimal

import tablib
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from cqa_portal.core.models import AuditEntry
from members import services
from members.models import FeePayment, MemberCompany, MembershipFee
from members.resources import CompanyResource, FeeResource, import_report

from .factories import CompanyFactory, FeeFactory, make_uscc

FEE_HEADERS = ["uscc", "year", "amount_due", "relief_amount", "amount_paid", "due_date"]
COMPANY_HEADERS = ["name", "uscc", "province", "industry_section", "size_band", "level", "status"]


def _history(obj):
    return AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).order_by("id")


def _empty_inlines(client, url):
    response = client.get(url)
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        data[f"{inline.formset.prefix}-TOTAL_FORMS"] = "0"
        data[f"{inline.formset.prefix}-INITIAL_FORMS"] = "0"
    return data


def _import(resource, rows, headers, user=None):
    return resource.import_data(
        tablib.Dataset(*rows, headers=headers),
        dry_run=False,
        use_transactions=True,
        rollback_on_validation_errors=True,
        user=user,
    )


def test_fee_import_marking_a_fee_paid_records_a_payment_and_the_status_change(db, staff):
    fee = FeeFactory(due_date=datetime.date(2020, 3, 31), status=MembershipFee.Status.OVERDUE)
    rows = [(fee.company.uscc, 2020, "3000", "0", "3000", "2020-03-31")]
    result = _import(FeeResource(), rows, FEE_HEADERS, user=staff)
    assert not result.has_errors() and not result.has_validation_errors(), import_report(result)
    fee.refresh_from_db()
    assert (fee.status, fee.amount_paid) == ("paid", Decimal("3000.00"))
    payment = FeePayment.objects.get(fee=fee)
    assert payment.amount == Decimal("3000.00")
    assert payment.recorded_by == staff
    assert payment.paid_on == timezone.localdate()
    entries = list(_history(fee).values_list("action", "from_state", "to_state", "actor"))
    assert ("members.fee.paid", "overdue", "paid", staff.pk) in entries
    assert ("members.fee.payment_recorded", "", "", staff.pk) in entries


def test_fee_import_cannot_lower_what_was_paid_and_writes_nothing(db, staff):
    fee = FeeFactory(amount_paid=Decimal("1000"))
    rows = [
        (CompanyFactory().uscc, 2020, "3000", "0", "0", "2020-03-31"),
        (fee.company.uscc, 2020, "3000", "0", "500", "2020-03-31"),
    ]
    result = _import(FeeResource(), rows, FEE_HEADERS, user=staff)
    report = "\n".join(import_report(result))
    assert "第 3 行" in report and "已登记缴纳 1000.00 元" in report
    assert MembershipFee.objects.count() == 1
    assert not AuditEntry.objects.exists() and not FeePayment.objects.exists()


def test_fee_import_relief_and_new_fees_are_logged(db, staff):
    fee = FeeFactory()
    new_company = CompanyFactory()
    rows = [
        (fee.company.uscc, 2020, "3000", "1000", "0", fee.due_date.isoformat()),
        (new_company.uscc, 2020, "3000", "0", "0", "2030-03-31"),
    ]
    result = _import(FeeResource(), rows, FEE_HEADERS, user=staff)
    assert not result.has_validation_errors(), import_report(result)
    updated = _history(fee).get(action="members.fee.updated")
    assert "relief_amount: 0.00 → 1000" in updated.detail and updated.actor == staff
    created = MembershipFee.objects.get(company=new_company)
    assert _history(created).get().action == "members.fee.created"
    assert not FeePayment.objects.exists()


def test_overdue_marking_leaves_one_history_entry_per_fee(db, django_assert_max_num_queries):
    today = datetime.date(2020, 5, 1)
    late = FeeFactory.create_batch(5, due_date=datetime.date(2020, 3, 31))
    FeeFactory(due_date=datetime.date(2020, 6, 30))
    with django_assert_max_num_queries(8):  # set-based: not one query per fee
        assert services.fees_mark_overdue(today=today) == 5
    for fee in late:
        entry = _history(fee).get()
        assert (entry.action, entry.from_state, entry.to_state) == (
            "members.fee.overdue",
            "due",
            "overdue",
        )
        assert "2020-03-31" in entry.detail
    assert services.fees_mark_overdue(today=today) == 0
    assert AuditEntry.objects.count() == 5


def test_admin_fee_edit_leaves_history_with_the_actor(client, staff):
    fee = FeeFactory(due_date=timezone.localdate() + datetime.timedelta(days=30))
    client.force_login(staff)
    response = client.post(
        f"/admin/members/membershipfee/{fee.pk}/change/",
        {
            "amount_due": "3000.00",
            "due_date": "2020-01-31",
            **_empty_inlines(client, f"/admin/members/membershipfee/{fee.pk}/change/"),
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    fee.refresh_from_db()
    assert fee.status == "overdue"
    entries = {e.action: e for e in _history(fee)}
    assert entries["members.fee.overdue"].from_state == "due"
    assert entries["members.fee.overdue"].actor == staff
    assert "due_date:" in entries["members.fee.updated"].detail
    assert entries["members.fee.updated"].actor == staff


def test_company_status_import_is_audited(db, staff):
    company = CompanyFactory(status=MemberCompany.Status.ACTIVE)
    code = make_uscc()
    rows = [
        (company.name, company.uscc, "42", "C", "medium", "ordinary", "lapsed"),
        ("新公司", code, "42", "C", "small", "ordinary", "active"),
    ]
    result = _import(CompanyResource(), rows, COMPANY_HEADERS, user=staff)
    assert not result.has_validation_errors(), import_report(result)
    company.refresh_from_db()
    assert company.status == "lapsed"
    entry = _history(company).get()
    assert (entry.action, entry.from_state, entry.to_state, entry.actor) == (
        "members.company.lapsed",
        "active",
        "lapsed",
        staff,
    )
    new = MemberCompany.objects.get(uscc=code)
    entry = _history(new).get()
    assert (entry.action, entry.to_state, entry.actor, entry.object_repr) == (
        "members.company.imported",
        "active",
        staff,
        "新公司",
    )
    assert entry.detail == "表格导入" and entry.created_at is not None


def test_failed_company_import_leaves_no_history(db, staff):
    rows = [
        ("好公司", make_uscc(), "42", "C", "small", "ordinary", "active"),
        ("坏公司", "BAD", "42", "C", "small", "ordinary", "active"),
    ]
    result = _import(CompanyResource(), rows, COMPANY_HEADERS, user=staff)
    assert result.has_validation_errors()
    assert not MemberCompany.objects.exists() and not AuditEntry.objects.exists()


def test_admin_company_status_edit_is_logged_from_and_to(client, staff):
    company = CompanyFactory(status=MemberCompany.Status.ACTIVE)
    client.force_login(staff)
    url = f"/admin/members/membercompany/{company.pk}/change/"
    response = client.get(url)
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None:
            continue
        if hasattr(value, "pk"):
            value = value.pk
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = value
    data["status"] = "suspended"
    for inline in response.context["inline_admin_formsets"]:
        data[f"{inline.formset.prefix}-TOTAL_FORMS"] = "0"
        data[f"{inline.formset.prefix}-INITIAL_FORMS"] = "0"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = _history(company).get(action="members.company.suspended")
    assert (entry.from_state, entry.to_state, entry.actor) == ("active", "suspended", staff)
