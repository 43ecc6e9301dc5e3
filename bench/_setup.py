"""Shared set-up for benchmarks: Django on the database and broker from the environment."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cqa_portal.settings.local")
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        print(
            f"warning: running on {connection.vendor}; the figures that matter are on PostgreSQL "
            "(set DATABASE_URL)",
            file=sys.stderr,
        )


class Rollback(Exception):
    """Raised inside transaction.atomic() to undo what a measurement wrote."""
