from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoursesConfig(AppConfig):
    name = "courses"
    verbose_name = _("Free live courses")

    def ready(self) -> None:
        from cqa_portal.core import mail

        from . import mails

        mail.register_attachment(mails.CALENDAR, mails.calendar_attachment)
