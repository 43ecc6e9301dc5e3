"""An export opened, corrected and uploaded again goes back in: the import accepts the export's
translated headers (and labels) in either language."""

import io

import pytest
import tablib
from django.utils import translation

from members.models import MemberCompany
from members.resources import CompanyResource, FeeResource
from pledges.exports import AllianceMemberResource
from pledges.models import AllianceMember
from tests.members.factories import CompanyFactory, FeeFactory
from tests.pledges.factories import AllianceMemberFactory
from tests.spreadsheets import body

from .test_exports import _admin_export

pytestmark = pytest.mark.django_db


def _dataset(response) -> tablib.Dataset:
    return tablib.Dataset().load(io.StringIO(body(response).decode("utf-8-sig")), format="csv")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_company_export_imports_again_unchanged(staff_client, language):
    companies = CompanyFactory.create_batch(3)
    staff_client.cookies["django_language"] = language
    dataset = _dataset(_admin_export(staff_client, MemberCompany, "csv"))
    assert "uscc" not in dataset.headers  # translated headers, not the import's keys
    with translation.override(language):
        result = CompanyResource().import_data(dataset, dry_run=True)
    assert not result.has_errors() and not result.has_validation_errors(), [
        (row.number, row.errors) for row in result.invalid_rows
    ]
    assert result.totals["new"] == 0
    assert MemberCompany.objects.count() == len(companies)


def test_company_export_with_a_corrected_name_updates_that_company(staff_client):
    company = CompanyFactory(name="旧名称有限公司")
    dataset = _dataset(_admin_export(staff_client, MemberCompany, "csv"))
    name_column = dataset.headers.index(str(MemberCompany._meta.get_field("name").verbose_name))
    rows = [list(row) for row in dataset]
    rows[0][name_column] = "新名称有限公司"
    corrected = tablib.Dataset(*rows, headers=dataset.headers)
    result = CompanyResource().import_data(corrected, dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors()
    company.refresh_from_db()
    assert company.name == "新名称有限公司"


def test_fee_and_alliance_member_exports_import_again(staff_client):
    FeeFactory.create_batch(2)
    AllianceMemberFactory.create_batch(2)
    from members.models import MembershipFee

    for model, resource in [(MembershipFee, FeeResource), (AllianceMember, AllianceMemberResource)]:
        dataset = _dataset(_admin_export(staff_client, model, "csv"))
        result = resource().import_data(dataset, dry_run=True)
        assert not result.has_errors() and not result.has_validation_errors(), (
            model,
            [(row.number, row.errors) for row in result.invalid_rows],
        )
        assert result.totals["new"] == 0, model
