"""Load the demo data of every app. Safe to run again: nothing is duplicated."""

from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Max

from cqa_portal.core import demo
from cqa_portal.core.models import OutboxMessage


class Command(BaseCommand):
    help = "Create demo accounts and each app's demo data (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        # Demo data describes fictional 2020 events: the mails its services write are dropped
        # before commit, so nobody is mailed from a demo (and the console stays readable).
        last_mail = OutboxMessage.objects.aggregate(last=Max("pk"))["last"] or 0
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
        OutboxMessage.objects.filter(pk__gt=last_mail).delete()
        self.stdout.write(self.style.SUCCESS("Demo accounts:"))
        self.stdout.write(
            f"  staff  (admin at /admin/): {demo.STAFF_EMAIL} / {demo.STAFF_PASSWORD}"
        )
        self.stdout.write(
            f"  member (member area):      {demo.MEMBER_EMAIL} / {demo.MEMBER_PASSWORD}"
        )
