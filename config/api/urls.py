"""The REST API's routes under /api/v1/ (namespace "api"): each app's ``api/urls.py``."""

from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("", include("accounts.api.urls")),
]
