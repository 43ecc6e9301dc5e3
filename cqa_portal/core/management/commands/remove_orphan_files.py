"""``manage.py remove_orphan_files [--dry-run] [--older-than-minutes N]``: uploaded files with
no row (a request killed after writing the file) are listed and removed."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from cqa_portal.core.services.files import ORPHAN_GRACE, orphan_files_remove


class Command(BaseCommand):
    help = "Remove uploaded files that no row refers to (older than a grace period)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only list them")
        parser.add_argument(
            "--older-than-minutes",
            type=int,
            default=int(ORPHAN_GRACE.total_seconds() // 60),
            help="leave younger files alone (a request may still be writing its row)",
        )

    def handle(self, *args, dry_run=False, older_than_minutes=60, **options):
        run = orphan_files_remove(older_than=timedelta(minutes=older_than_minutes), dry_run=dry_run)
        for name in run.orphans:
            self.stdout.write(f"{'would remove' if dry_run else 'removed'} {name}")
        self.stdout.write(
            f"{run.checked} files checked, {len(run.orphans)} orphans, {run.removed} removed"
        )
