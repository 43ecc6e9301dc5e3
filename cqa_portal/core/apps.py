from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "cqa_portal.core"
    label = "core"
    verbose_name = _("Portal core")
