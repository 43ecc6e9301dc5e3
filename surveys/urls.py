from django.urls import path

from . import views

app_name = "surveys"

urlpatterns = [
    path("", views.index, name="index"),
    path("findings/", views.findings, name="findings"),
    path("responses/<int:pk>/", views.response_detail, name="response"),
    path("staff/fairness/", views.staff_fairness, name="staff_fairness"),
    path("<slug:slug>/", views.fill, name="fill"),
    path("<slug:slug>/results/", views.results, name="results"),
    path("<slug:slug>/results.xlsx", views.results_export, name="results_export"),
    path("<slug:slug>/staff/results/", views.staff_results, name="staff_results"),
    path("<slug:slug>/staff/refresh/", views.staff_refresh, name="staff_refresh"),
    path(
        "<slug:slug>/staff/export/responses.<str:fmt>",
        views.export_responses,
        name="export_responses",
    ),
    path("<slug:slug>/staff/export/summary.xlsx", views.export_summary, name="export_summary"),
]
