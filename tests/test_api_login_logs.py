"""The login log API: /api/v1/login-logs/ (read-only)."""

from __future__ import annotations

from logs.models import LoginLog, LoginStatus
from tests.api_cases import ReadOnlyAPICase


class TestLoginLogAPI(ReadOnlyAPICase):
    basename = "loginlog"
    model = LoginLog
    cursor_paginated = True

    def make(self, tenant, index):
        return LoginLog.objects.create(
            tenant=tenant, tenant_code=tenant.code, username=f"user{index}",
            ip_address="192.0.2.1", login_status=LoginStatus.SUCCESS,
        )
