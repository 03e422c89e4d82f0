"""Pages of the logs app."""

from django.urls import path

from logs import views

app_name = "logs"

urlpatterns = [
    path("", views.usage_view, name="usage"),
    path("roll-up/", views.rollup_view, name="usage-rollup"),
]
