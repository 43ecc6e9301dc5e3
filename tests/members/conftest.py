import pytest

from tests.factories import StaffFactory

from .factories import FeeFactory, MembershipFactory


@pytest.fixture
def admin_member(db):
    """A company administrator with a 2020 fee due."""
    membership = MembershipFactory()
    FeeFactory(company=membership.company)
    return membership


@pytest.fixture
def staff(db):
    return StaffFactory()


@pytest.fixture
def other_member(db):
    return MembershipFactory()
