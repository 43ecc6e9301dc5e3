"""Ship the COVID-19 impact survey ready to run: open from now for 30 days (staff adjust the dates)."""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone


def install(apps, schema_editor):
    from surveys import covid

    survey_model = apps.get_model("surveys", "Survey")
    if survey_model.objects.filter(slug=covid.SLUG).exists():
        return
    now = timezone.now()
    covid.install(
        survey_model,
        apps.get_model("surveys", "Question"),
        apps.get_model("surveys", "QuestionOption"),
        opens_at=now,
        closes_at=now + timedelta(days=30),
    )


def remove(apps, schema_editor):
    from surveys import covid

    survey_model = apps.get_model("surveys", "Survey")
    survey_model.objects.filter(slug=covid.SLUG, responses__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("surveys", "0001_initial")]
    operations = [migrations.RunPython(install, remove)]
