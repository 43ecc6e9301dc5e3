from django.urls import path

from cqa_portal.core.views import placeholder

app_name = "pledges"

urlpatterns = [
    path("open-letter/", placeholder, {"section": "open_letter"}, name="open_letter"),
    path("alliance/", placeholder, {"section": "alliance"}, name="alliance"),
]
