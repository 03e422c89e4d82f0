"""The notification pages: the inbox, marking one or all read (under /accounts/notifications/)."""

from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list_view, name="list"),
    path("<uuid:pk>/read/", views.notification_read_view, name="read"),
    path("read-all/", views.notification_read_all_view, name="read-all"),
]
