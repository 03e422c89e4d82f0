"""Login and logout."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views, views_notifications

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

# Notifications (issue 3, item 5).
urlpatterns += [
    path(
        "notifications/",
        views_notifications.notification_list_view,
        name="notifications",
    ),
    path(
        "notifications/<uuid:pk>/read/",
        views_notifications.notification_read_view,
        name="notification-read",
    ),
    path(
        "notifications/read-all/",
        views_notifications.notification_read_all_view,
        name="notifications-read-all",
    ),
]
