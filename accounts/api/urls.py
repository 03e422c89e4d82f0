"""Routes of the accounts app's API, included by ``config/api/urls.py`` under /api/v1/."""

from django.urls import path

from accounts.api.views import MeView

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
]
