"""The Chinese catalogues are complete and their compiled .mo files match the .po sources."""

import ast
import gettext
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = sorted(
    p for p in ROOT.glob("**/locale/zh_Hans/LC_MESSAGES/django.po") if ".venv" not in p.parts
)


def _entries(po: Path):
    """Yield (context, msgid, msgstr, fuzzy) for singular entries of a .po file."""
    entry, key, fuzzy = {}, None, False
    for line in [*po.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith(("msgctxt ", "msgid ", "msgid_plural ", "msgstr ", "msgstr[0] ")):
            key, _, value = line.partition(" ")
            entry[key] = ast.literal_eval(value)
        elif line.startswith('"') and key:
            entry[key] += ast.literal_eval(line)
        elif not line.strip():
            if entry.get("msgid"):
                msgstr = entry.get("msgstr", entry.get("msgstr[0]", ""))
                yield entry.get("msgctxt"), entry["msgid"], msgstr, fuzzy
            entry, key, fuzzy = {}, None, False


def test_catalogues_exist():
    assert ROOT / "locale/zh_Hans/LC_MESSAGES/django.po" in CATALOGUES


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_string_translated_and_compiled(po):
    compiled = gettext.GNUTranslations(po.with_suffix(".mo").open("rb"))
    for context, msgid, msgstr, fuzzy in _entries(po):
        assert not fuzzy, f"fuzzy translation in {po}: {msgid!r}"
        assert msgstr, f"untranslated in {po}: {msgid!r}"
        found = compiled.pgettext(context, msgid) if context else compiled.gettext(msgid)
        assert found == msgstr, f"{po} is newer than its .mo: run make messages"
