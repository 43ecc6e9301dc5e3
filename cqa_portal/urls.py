from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from cqa_portal.core import views as core_views

# The admin login goes through allauth's login, so it is rate-limited like every other login;
# a logged-in user who is not staff gets 403, never the admin.
admin.autodiscover()
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = _("China Association for Quality — staff")
admin.site.site_title = _("CQA portal staff")
admin.site.index_title = _("Administration")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("i18n/setlang/", core_views.set_language, name="set_language"),
    path("", include("cqa_portal.core.urls")),
    path("members/", include("members.urls")),
    path("", include("pledges.urls")),
    path("surveys/", include("surveys.urls")),
    path("courses/", include("courses.urls")),
]

handler400 = core_views.bad_request
handler403 = core_views.permission_denied
handler404 = core_views.page_not_found
handler500 = core_views.server_error

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
