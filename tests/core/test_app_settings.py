"""Each app's settings come from one typed place (``<app>/conf.py``) that reads the Django
settings declared in base.py: overriding a setting changes the behaviour through it."""

from dataclasses import FrozenInstanceError
from datetime import timedelta
from pathlib import Path

import pytest

from courses import conf as courses_conf
from members import conf as members_conf
from pledges import conf as pledges_conf

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_come_from_base_settings():
    courses = courses_conf.get()
    assert courses.reminder_offsets == (1440, 60)
    assert courses.confirm_max_age == timedelta(hours=48)
    assert courses.register_rate == (10, 600)
    pledges = pledges_conf.get()
    assert pledges.confirm_max_age == timedelta(days=7)
    assert pledges.sign_rate == (20, 3600)
    assert members_conf.get().invitation_max_age == timedelta(days=14)


def test_overriding_a_setting_changes_the_conf(settings):
    settings.COURSES_REMINDER_OFFSETS = [30, 120, 30]
    settings.COURSES_CONFIRM_MAX_AGE = 3600
    settings.PLEDGES_RESEND_INTERVAL = 5
    settings.MEMBERS_INVITATION_MAX_AGE_DAYS = 3
    assert courses_conf.get().reminder_offsets == (120, 30)
    assert courses_conf.get().confirm_max_age_hours == 1
    assert pledges_conf.get().resend_interval == timedelta(seconds=5)
    assert members_conf.get().invitation_max_age == timedelta(days=3)


def test_conf_is_read_only():
    with pytest.raises(FrozenInstanceError):
        courses_conf.get().mail_batch_size = 1


def test_no_scattered_getattr_settings_in_the_apps():
    offenders = [
        str(path.relative_to(ROOT))
        for app in ("courses", "pledges", "members", "surveys", "cqa_portal")
        for path in (ROOT / app).rglob("*.py")
        if "getattr(settings" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
