"""API of the logs: read-only."""

from __future__ import annotations

import django_filters

from config.api.base import PlatformReadOnlyViewSet
from logs.api.serializers import LoginLogSerializer
from logs.models import LoginLog


class LoginLogFilter(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = LoginLog
        fields = ["login_status", "reason", "user", "username", "ip_address"]


class LoginLogViewSet(PlatformReadOnlyViewSet):
    """Sign-in attempts of the tenant (every tenant for operators)."""

    queryset = LoginLog.objects.all()
    serializer_class = LoginLogSerializer
    filterset_class = LoginLogFilter
    search_fields = ["username", "ip_address"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]
