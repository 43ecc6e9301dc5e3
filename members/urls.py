from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("apply/", views.apply, name="apply"),
    path("profile/", views.profile_edit, name="profile"),
    path("users/", views.users, name="users"),
    path("users/<int:pk>/remove/", views.user_remove, name="user_remove"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("relief/new/", views.relief_new, name="relief_new"),
    path("relief/<int:pk>/", views.relief_detail, name="relief_detail"),
    path("relief/<int:pk>/edit/", views.relief_edit, name="relief_edit"),
    path("relief/<int:pk>/submit/", views.relief_submit, name="relief_submit"),
    path("relief/<int:pk>/withdraw/", views.relief_withdraw, name="relief_withdraw"),
    path(
        "relief/<int:pk>/documents/<int:doc_pk>/",
        views.relief_document,
        name="relief_document",
    ),
]
