import datetime
import secrets

import factory
from django.utils import timezone

from pledges.models import (
    Alliance,
    AllianceMember,
    Commitment,
    CoSignature,
    Initiative,
    InitiativeItem,
    OpenLetter,
    Signature,
    SignatureKind,
)
from tests.members.factories import CompanyFactory, MembershipFactory  # noqa: F401

VALID_USCC = "91110000600037341L"
PILOT_USCC = "91350100M0001TGQXM"  # valid format, check character does not match


def _yesterday():
    return timezone.now() - datetime.timedelta(days=1)


class InitiativeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Initiative

    slug = factory.Sequence(lambda n: f"initiative-{n}")
    title = factory.Sequence(lambda n: f"倡议 {n}")
    title_en = factory.Sequence(lambda n: f"Initiative {n}")
    is_published = True
    published_at = factory.LazyFunction(_yesterday)


class InitiativeItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InitiativeItem

    initiative = factory.SubFactory(InitiativeFactory)
    order = factory.Sequence(int)
    text = factory.Sequence(lambda n: f"倡议条目 {n}")
    text_en = factory.Sequence(lambda n: f"Initiative item {n}")


class LetterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OpenLetter

    slug = factory.Sequence(lambda n: f"letter-{n}")
    title = factory.Sequence(lambda n: f"公开信 {n}")
    title_en = factory.Sequence(lambda n: f"Open letter {n}")
    date = datetime.date(2020, 3, 20)
    addressees = "全体会员"
    addressees_en = "All members"
    body = "我们承诺**质量第一**。"
    body_en = "We put **quality first**."
    initiative = factory.SubFactory(InitiativeFactory)
    is_published = True
    published_at = factory.LazyFunction(_yesterday)


class CommitmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Commitment

    letter = factory.SubFactory(LetterFactory)
    order = factory.Sequence(int)
    text = factory.Sequence(lambda n: f"承诺 {n}")
    text_en = factory.Sequence(lambda n: f"Commitment {n}")


class SignatureFactory(factory.django.DjangoModelFactory):
    """A confirmed, public signature (counters are not touched: call tally_rebuild)."""

    class Meta:
        model = Signature

    initiative = factory.SubFactory(InitiativeFactory)
    kind = SignatureKind.INDIVIDUAL
    status = Signature.Status.CONFIRMED
    name = factory.Sequence(lambda n: f"签名人{n}")
    organisation = "某质量研究所"
    province = "42"
    email = factory.Sequence(lambda n: f"signer{n}@example.com")
    show_name = True
    link_key = factory.LazyFunction(lambda: secrets.token_urlsafe(12))
    consent_at = factory.LazyFunction(timezone.now)
    confirmed_at = factory.LazyFunction(timezone.now)


class AllianceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alliance

    slug = factory.Sequence(lambda n: f"alliance-{n}")
    name = "服务企业复工复产协作联盟"
    name_en = "Alliance serving enterprises' resumption of work"
    founded_on = datetime.date(2020, 3, 13)
    initiative = factory.SubFactory(InitiativeFactory, accepts_signatures=False)
    is_published = True
    published_at = factory.LazyFunction(_yesterday)


class AllianceMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AllianceMember

    alliance = factory.SubFactory(AllianceFactory)
    name = factory.Sequence(lambda n: f"协会{n}")
    short_name = factory.Sequence(lambda n: f"协{n}")
    joined_on = datetime.date(2020, 3, 13)
    order = factory.Sequence(int)


class CoSignatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CoSignature

    alliance = factory.SubFactory(AllianceFactory)
    organisation = factory.Sequence(lambda n: f"某省质量协会{n}")
    organisation_type = CoSignature.OrganisationType.ASSOCIATION
    province = "42"
    contact_name = "联系人"
    contact_email = factory.Sequence(lambda n: f"contact{n}@association.example.org")
