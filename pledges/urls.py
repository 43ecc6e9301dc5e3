from django.urls import path

from . import views

app_name = "pledges"

urlpatterns = [
    path("open-letter/", views.open_letter, name="open_letter"),
    path("open-letter/<slug:slug>/", views.letter_detail, name="letter_detail"),
    path("initiatives/<slug:slug>/sign/", views.sign, name="sign"),
    path("initiatives/<slug:slug>/sign/thanks/", views.sign_done, name="sign_done"),
    path("initiatives/<slug:slug>/sign/company/", views.sign_company, name="sign_company"),
    path(
        "initiatives/<slug:slug>/sign/company/withdraw/",
        views.withdraw_company,
        name="withdraw_company",
    ),
    path("initiatives/<slug:slug>/signatures/", views.wall, name="wall"),
    path("signatures/confirm/<str:token>/", views.confirm, name="confirm"),
    path("signatures/confirm/<str:token>/new-link/", views.confirm_resend, name="confirm_resend"),
    path("signatures/withdraw/<str:token>/", views.withdraw, name="withdraw"),
    path(
        "signatures/withdraw/<str:token>/new-link/", views.withdraw_resend, name="withdraw_resend"
    ),
    path("alliance/", views.alliance, name="alliance"),
    path("alliance/co-sign/", views.cosign, name="cosign"),
    path("alliance/co-sign/thanks/", views.cosign_done, name="cosign_done"),
]
