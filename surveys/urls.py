from django.urls import path

from cqa_portal.core.views import placeholder

app_name = "surveys"

urlpatterns = [
    path("findings/", placeholder, {"section": "findings"}, name="findings"),
]
