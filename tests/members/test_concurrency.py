"""Real threads on PostgreSQL: the one-open-request rule holds under simultaneous submissions."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from members import services
from members.models import ReliefRequest

from .factories import FeeFactory, MembershipFactory, reason


@pytest.mark.django_db(transaction=True)
def test_simultaneous_requests_for_the_same_year_make_one(postgres):
    membership = MembershipFactory()
    FeeFactory(company=membership.company)
    reasons = [reason("production")]
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def file_request():
        try:
            barrier.wait()
            services.relief_request_save(
                relief=ReliefRequest(company=membership.company, year=2020, kind="waiver"),
                reasons=reasons,
                actor=membership.user,
                submit=True,
            )
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(" ".join(exc.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=file_request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 1
    assert all("该年度已有一份未结束的减免申请" in o for o in outcomes if o != "ok")
    assert ReliefRequest.objects.filter(company=membership.company).count() == 1
