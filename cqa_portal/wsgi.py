import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cqa_portal.settings.local")
application = get_wsgi_application()

# Load every view module now, then move what the loaded portal holds for its whole life (some
# 100,000 objects) out of the garbage collector's sight: a full collection over them took
# 100 to 150 ms, a pause every few hundred requests in each worker (the slowest 1 % of page
# loads). Objects made by requests are collected as before.
get_resolver().url_patterns  # noqa: B018 - imports the URLconf and the views
gc.freeze()
