from django.db import migrations

REASONS = ["staff_returning", "production", "sales", "construction", "raw_materials", "costs", "other"]
LEVELS = [
    ("council", "理事单位", "Council member", "10000.00", 1),
    ("ordinary", "会员单位", "Ordinary member", "3000.00", 2),
]


def seed(apps, schema_editor):
    reason_model = apps.get_model("members", "ReliefReason")
    for order, code in enumerate(REASONS):
        reason_model.objects.update_or_create(code=code, defaults={"order": order})
    level_model = apps.get_model("members", "MembershipLevel")
    for code, name, name_en, fee, order in LEVELS:
        level_model.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "annual_fee": fee, "order": order}
        )


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
