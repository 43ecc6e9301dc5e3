"""Drill: a process filing a relief request with a document is SIGKILLed after the file is
written and before its row is committed, ten times.

Done: in the drill database (uploads in a temporary private-media folder) a member company
with a 2020 fee is created. Ten times, a separate Python process (as a gunicorn worker would)
files a relief request with one PDF through ``relief_request_save`` and kills itself with
SIGKILL at the moment the document's row is saved (the file is on disk, the transaction not
committed). Then ``manage.py remove_orphan_files`` runs, first with ``--dry-run``.
Checked, by counting files on disk and rows: after the kills there are ten files and no row
(the orphans a kill leaves; before: 3 orphan files in 10 kills stayed for ever); the dry run
lists all ten and removes none; the command removes all ten (grace 0 for the drill) and leaves
the file of a request that was filed normally.

Run alone: ``.venv/bin/python bench/drills/upload_kill.py`` (or ``make drills``).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, drill_env, prepare  # noqa: E402

KILLS = 10
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EMAIL = "drill-upload-kill@example.com"

CHILD = r"""
import os, signal, sys
import django
django.setup()
from django.core.files.uploadedfile import SimpleUploadedFile
from members import services
from members.models import CompanyMembership, ReliefDocument, ReliefRequest

def killed(self, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # the file is written; the row never commits

ReliefDocument.save = killed
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
membership = CompanyMembership.objects.select_related("company", "user").get(
    user__email=sys.argv[1]
)
relief = ReliefRequest(company=membership.company, year=2020, kind="waiver")
upload = SimpleUploadedFile("证明.pdf", PDF, content_type="application/pdf")
services.relief_request_save(relief=relief, reasons=[], files=[upload], actor=membership.user)
print("not killed")
"""


def say(text: str) -> None:
    print(text, flush=True)


def files_on_disk(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def main() -> int:
    media = Path(tempfile.mkdtemp(prefix="cqa-drill-upload-"))
    extra = {"PRIVATE_MEDIA_ROOT": str(media)}
    prepare(**extra)
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from members import services
    from members.models import MemberCompany, ReliefDocument, ReliefRequest
    from tests.factories import UserFactory
    from tests.members.factories import FeeFactory, MembershipFactory

    cleanup(MemberCompany)
    membership = MembershipFactory(user=UserFactory(email=EMAIL))
    FeeFactory(company=membership.company)
    figures: dict = {"drill": "upload_kill", "kills": KILLS}
    try:
        exits = []
        for _ in range(KILLS):
            child = subprocess.run(
                [sys.executable, "-c", CHILD, EMAIL],
                env=drill_env(**extra),
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            exits.append(child.returncode)
        rows = ReliefDocument.objects.filter(request__company=membership.company).count()
        orphans = files_on_disk(media)
        say(
            f"{KILLS} filings SIGKILLed after the file was written (exit codes "
            f"{sorted(set(exits))}): {len(orphans)} files on disk, {rows} document rows"
        )
        figures.update(files_after_kills=len(orphans), rows_after_kills=rows, exits=exits)
        # One request filed normally: its file must stay.
        services.relief_request_save(
            relief=ReliefRequest(company=membership.company, year=2020, kind="waiver"),
            reasons=[],
            files=[SimpleUploadedFile("留存.pdf", PDF, content_type="application/pdf")],
            actor=membership.user,
        )
        kept = ReliefDocument.objects.get(request__company=membership.company).file.name

        out = io.StringIO()
        call_command("remove_orphan_files", "--dry-run", "--older-than-minutes", "0", stdout=out)
        listed = out.getvalue().count("would remove ")
        after_dry_run = len(files_on_disk(media))
        say(f"remove_orphan_files --dry-run listed {listed}; files on disk {after_dry_run}")
        out = io.StringIO()
        call_command("remove_orphan_files", "--older-than-minutes", "0", stdout=out)
        say("remove_orphan_files: " + out.getvalue().strip().splitlines()[-1])
        remaining = files_on_disk(media)
        say(f"files on disk now {len(remaining)}: {remaining}")
        figures.update(
            listed_by_dry_run=listed,
            files_after_dry_run=after_dry_run,
            files_after_command=len(remaining),
            kept_file_remains=kept in remaining,
        )
    finally:
        cleanup(MemberCompany)
        for path in sorted(media.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        media.rmdir()
    checks = {
        f"each of the {KILLS} filing processes died by SIGKILL": figures["exits"] == [-9] * KILLS,
        f"the {KILLS} kills left {KILLS} files and no row": (
            figures["files_after_kills"] == KILLS and figures["rows_after_kills"] == 0
        ),
        "the dry run lists every orphan and removes none": (
            figures["listed_by_dry_run"] == KILLS and figures["files_after_dry_run"] == KILLS + 1
        ),
        "the command removes every orphan and keeps the filed document": (
            figures["files_after_command"] == 1 and figures["kept_file_remains"]
        ),
    }
    for text, ok in checks.items():
        say(f"{'PASS' if ok else 'FAIL'}  {text}")
    figures["passed"] = all(checks.values())
    print(json.dumps(figures, ensure_ascii=False))
    return 0 if figures["passed"] else 1


def cleanup(MemberCompany) -> None:
    from django.contrib.auth import get_user_model

    MemberCompany.objects.filter(members__user__email=EMAIL).delete()
    get_user_model().objects.filter(email=EMAIL).delete()


if __name__ == "__main__":
    sys.exit(main())
