"""The admin of notifications: /admin/accounts/notification/ (targets inline)."""

from __future__ import annotations

from notifications.models import Notification
from tests.admin_cases import AdminTestCase


class TestNotificationAdmin(AdminTestCase):
    model = Notification
    expected_change = {"title": "Renamed"}

    def make(self, tenant, index):
        return Notification.objects.create(tenant=tenant, title=f"Notice {index}", content="Hello")

    def change_data(self, row):
        return {
            "title": "Renamed",
            "content": row.content,
            "type": row.type,
            "level": row.level,
            "audience": row.audience,
            "status": row.status,
            "published_at_0": "2025-01-01",
            "published_at_1": "09:00:00",
            "expires_at_0": "",
            "expires_at_1": "",
        }
