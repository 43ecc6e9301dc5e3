from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "cqa_portal.core"
    label = "core"
    verbose_name = _("Portal core")

    def ready(self):
        # Each app's jobs.py registers the handlers of its kinds of background job.
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("jobs")

        # The page cache observes every SQL statement (what pages read, what writes change).
        from . import pagecache

        pagecache.install()
