from django.urls import path

from . import data_views, views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("privacy/", views.privacy, name="privacy"),
    path("privacy/accept/", views.privacy_accept, name="privacy_accept"),
    path("healthz", views.healthz, name="healthz"),
    path("robots.txt", views.robots_txt, name="robots"),
    path("staff/jobs/", views.job_list, name="jobs"),
    path("staff/jobs/<int:pk>/", views.job_detail, name="job"),
    path("staff/jobs/<int:pk>/download/", views.job_download, name="job_download"),
    path("staff/jobs/<int:pk>/bad-rows.<str:fmt>", views.job_bad_rows, name="job_bad_rows"),
    path("staff/jobs/<int:pk>/confirm/", views.job_confirm, name="job_confirm"),
    path("me/data/", data_views.my_data, name="my_data"),
    path("me/data/download.<str:fmt>", data_views.my_data_download, name="my_data_download"),
    path("me/data/request/", data_views.data_request, name="data_request"),
    path("me/data/staff/", data_views.data_staff, name="data_staff"),
    path("me/data/<str:token>/", data_views.data_link, name="data_link"),
    path(
        "me/data/<str:token>/download.<str:fmt>",
        data_views.data_link_download,
        name="data_link_download",
    ),
    path("staff/report/", views.programme_report, name="programme_report"),
    path(
        "staff/report/document.docx",
        views.programme_report_document,
        name="programme_report_document",
    ),
    path("mail/unsubscribe/<str:token>/", views.mail_unsubscribe, name="mail_unsubscribe"),
]
