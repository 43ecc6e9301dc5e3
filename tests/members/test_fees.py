import datetime
from decimal import Decimal

import pytest

from cqa_portal.core.models import OutboxMessage
from members import services
from members.models import FeePayment, MemberCompany, MembershipFee

from .factories import CompanyFactory, FeeFactory, MembershipFactory, ReliefFactory, level


def test_generate_fees_from_admin_is_idempotent(client, staff):
    CompanyFactory.create_batch(3)
    CompanyFactory(status=MemberCompany.Status.LAPSED)
    council = CompanyFactory(level=level("council"))
    client.force_login(staff)
    assert "生成年度会费" in client.get("/admin/members/membershipfee/").content.decode()
    data = {"year": "2021", "due_date": "2021-03-31"}
    client.post("/admin/members/membershipfee/generate/", data)
    assert MembershipFee.objects.filter(year=2021).count() == 4
    assert MembershipFee.objects.get(company=council).amount_due == Decimal("10000.00")
    response = client.post("/admin/members/membershipfee/generate/", data, follow=True)
    assert MembershipFee.objects.filter(year=2021).count() == 4
    assert "已生成 0 条会费" in response.content.decode()


@pytest.mark.parametrize(
    "amount, paid_on, message",
    [
        ("-5", "2020-03-01", "金额必须大于零"),
        ("0", "2020-03-01", "金额必须大于零"),
        ("3000.01", "2020-03-01", "超过尚欠的 3000.00 元"),
        ("100", "2999-01-01", "付款日期不能晚于今天"),
        ("abc", "2020-03-01", "输入一个数字"),
    ],
)
def test_bad_payment_is_refused(client, staff, amount, paid_on, message):
    fee = FeeFactory()
    client.force_login(staff)
    response = client.post(
        f"/admin/members/membershipfee/{fee.pk}/payment/",
        {"amount": amount, "paid_on": paid_on, "reference": "x"},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not FeePayment.objects.exists()
    fee.refresh_from_db()
    assert fee.amount_paid == 0


def test_payments_settle_the_fee(client, staff):
    fee = FeeFactory()
    client.force_login(staff)
    url = f"/admin/members/membershipfee/{fee.pk}/payment/"
    client.post(url, {"amount": "1000", "paid_on": "2020-03-01"})
    fee.refresh_from_db()
    assert (fee.amount_paid, fee.status) == (Decimal("1000.00"), "due")
    client.post(url, {"amount": "2000", "paid_on": "2020-03-02"})
    fee.refresh_from_db()
    assert (fee.amount_paid, fee.status) == (Decimal("3000.00"), "paid")
    assert fee.payments.count() == 2


def test_overdue_marking_is_set_based_and_rerunnable(db):
    today = datetime.date(2020, 5, 1)
    late = FeeFactory(due_date=datetime.date(2020, 3, 31))
    paid = FeeFactory(due_date=datetime.date(2020, 3, 31), amount_paid=Decimal("3000"))
    later = FeeFactory(due_date=datetime.date(2020, 6, 30))
    assert services.fees_mark_overdue(today=today) == 1
    assert services.fees_mark_overdue(today=today) == 0
    statuses = dict(MembershipFee.objects.values_list("pk", "status"))
    assert statuses == {late.pk: "overdue", paid.pk: "due", later.pk: "due"}


@pytest.fixture
def due_fee(db):
    membership = MembershipFactory()
    return FeeFactory(company=membership.company, due_date=datetime.date(2020, 3, 31)), membership


def _reminders():
    return list(
        OutboxMessage.objects.filter(purpose="members.fee_reminder").values_list("key", flat=True)
    )


def test_reminders_before_and_after_due_date_once_per_step(
    due_fee, mailoutbox, django_capture_on_commit_callbacks
):
    fee, membership = due_fee

    def run(day):
        with django_capture_on_commit_callbacks(execute=True):
            services.fee_reminders_send(today=day)

    run(datetime.date(2020, 2, 20))  # 40 days before: nothing
    assert _reminders() == []
    run(datetime.date(2020, 3, 5))
    run(datetime.date(2020, 3, 6))  # same step again: nothing
    assert _reminders() == [f"members.fee_reminder:{fee.pk}:before_30:{membership.user.email}"]
    run(datetime.date(2020, 3, 28))
    run(datetime.date(2020, 4, 10))
    assert len(_reminders()) == 3
    assert len(mailoutbox) == 3
    assert mailoutbox[0].to == [membership.user.email]
    assert "会费" in mailoutbox[0].subject


def test_missed_reminder_window_is_skipped_not_sent_late(due_fee):
    services.fee_reminders_send(today=datetime.date(2020, 7, 1))  # 92 days after: too late
    assert _reminders() == []


@pytest.mark.parametrize(
    "status, reminded",
    [("submitted", False), ("under_review", False), ("approved", False), ("rejected", True)],
)
def test_no_reminder_while_relief_pending_or_granted(due_fee, status, reminded):
    fee, membership = due_fee
    ReliefFactory(company=membership.company, status=status)
    services.fee_reminders_send(today=datetime.date(2020, 3, 5))
    assert bool(_reminders()) is reminded


def test_paid_fee_gets_no_reminder(due_fee):
    fee, _membership = due_fee
    MembershipFee.objects.filter(pk=fee.pk).update(status="paid", amount_paid=fee.amount_due)
    services.fee_reminders_send(today=datetime.date(2020, 3, 5))
    assert _reminders() == []


def test_reminder_task_and_beat_entries():
    from cqa_portal.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"members.fees.mark_overdue", "members.mail.fee_reminders"} <= tasks


def test_reminder_run_reads_admins_in_batches_not_per_fee(db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(12):
        membership = MembershipFactory()
        FeeFactory(company=membership.company, due_date=datetime.date(2020, 3, 31))
    with CaptureQueriesContext(connection) as ctx:
        assert services.fee_reminders_send(today=datetime.date(2020, 3, 5)) == 12
    admin_lookups = [q for q in ctx.captured_queries if "members_companymembership" in q["sql"]]
    assert len(admin_lookups) <= len(services.REMINDER_STEPS)  # one prefetch per step at most
