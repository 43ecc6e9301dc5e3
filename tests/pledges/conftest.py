import pytest

from pledges import services

from .factories import CommitmentFactory, InitiativeItemFactory, LetterFactory


@pytest.fixture
def letter(db):
    """A published letter with three commitments and a three-point initiative."""
    letter = LetterFactory(slug="2020-letter")
    for _ in range(3):
        CommitmentFactory(letter=letter)
        InitiativeItemFactory(initiative=letter.initiative)
    return letter


@pytest.fixture
def initiative(letter):
    return letter.initiative


@pytest.fixture
def recount():
    def _recount(initiative):
        services.tally_rebuild(initiative_id=initiative.pk)

    return _recount
