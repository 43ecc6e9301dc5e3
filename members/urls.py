from django.urls import path

from cqa_portal.core.views import placeholder

app_name = "members"

urlpatterns = [
    path("", placeholder, {"section": "members"}, name="dashboard"),
]
