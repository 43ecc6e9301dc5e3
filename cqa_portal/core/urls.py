from django.urls import path

from . import views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("privacy/", views.privacy, name="privacy"),
    path("healthz", views.healthz, name="healthz"),
    path("robots.txt", views.robots_txt, name="robots"),
    path("staff/jobs/", views.job_list, name="jobs"),
    path("staff/jobs/<int:pk>/", views.job_detail, name="job"),
    path("staff/jobs/<int:pk>/download/", views.job_download, name="job_download"),
    path("staff/jobs/<int:pk>/bad-rows.<str:fmt>", views.job_bad_rows, name="job_bad_rows"),
    path("staff/jobs/<int:pk>/confirm/", views.job_confirm, name="job_confirm"),
    path("staff/report/", views.programme_report, name="programme_report"),
    path(
        "staff/report/document.docx",
        views.programme_report_document,
        name="programme_report_document",
    ),
    path("mail/unsubscribe/<str:token>/", views.mail_unsubscribe, name="mail_unsubscribe"),
]
