from django.urls import path

from cqa_portal.core.views import placeholder

app_name = "courses"

urlpatterns = [
    path("", placeholder, {"section": "courses"}, name="schedule"),
]
