from django.urls import path

from . import views

app_name = "courses"

urlpatterns = [
    path("", views.schedule, name="schedule"),
    path("calendar.ics", views.calendar_feed, name="calendar"),
    path("staff/demand/", views.staff_demand, name="staff_demand"),
    path("<int:pk>/", views.session_detail, name="session"),
    path("<int:pk>/calendar.ics", views.session_ics, name="session_ics"),
    path("<int:pk>/register/", views.register, name="register"),
    path("<int:pk>/cancel/", views.cancel_own, name="cancel_own"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("confirm/<str:token>/new-link/", views.confirm_resend, name="confirm_resend"),
    path("registration/<str:token>/", views.registration, name="registration"),
    path("registration/<str:token>/calendar.ics", views.registration_ics, name="registration_ics"),
]
