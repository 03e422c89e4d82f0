"""Serializers of the logs (read-only)."""

from rest_framework import serializers

from logs.models import LoginLog


class LoginLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = LoginLog
        fields = ["id", "tenant", "user", "tenant_code", "username", "ip_address", "user_agent",
                  "login_status", "reason", "error_message", "created_at"]
        read_only_fields = fields
