"""Load the demo data of every app. Safe to run again: nothing is duplicated."""

from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand

from cqa_portal.core import demo


class Command(BaseCommand):
    help = "Create demo accounts and each app's demo data (idempotent)."

    def handle(self, *args, **options):
        accounts = demo.seed(self.stdout)
        for config in apps.get_app_configs():
            if config.name == "cqa_portal.core":
                continue
            try:
                module = import_module(f"{config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.demo":
                    raise
                continue
            module.seed(self.stdout, accounts=accounts)
            self.stdout.write(f"  demo data loaded: {config.label}")
        self.stdout.write(self.style.SUCCESS("Demo accounts:"))
        self.stdout.write(
            f"  staff  (admin at /admin/): {demo.STAFF_EMAIL} / {demo.STAFF_PASSWORD}"
        )
        self.stdout.write(
            f"  member (member area):      {demo.MEMBER_EMAIL} / {demo.MEMBER_PASSWORD}"
        )
