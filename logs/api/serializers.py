"""Serializers of the logs (read-only)."""

from rest_framework import serializers

from logs.models import AuditLog, LoginLog, OperationLog


class LoginLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = LoginLog
        fields = ["id", "tenant", "user", "tenant_code", "username", "ip_address", "user_agent",
                  "login_status", "reason", "error_message", "created_at"]
        read_only_fields = fields


class OperationLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = OperationLog
        fields = ["id", "tenant", "user", "username", "operator_tenant", "request_id", "module",
                  "operation", "business_type", "business_id", "method", "uri", "ip_address",
                  "user_agent", "request_params", "response_status", "old_value", "new_value",
                  "execute_time", "status", "error_message", "created_at"]
        read_only_fields = fields


class AuditLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditLog
        fields = ["id", "tenant", "user", "username", "operator_tenant", "request_id", "source",
                  "entity_type", "entity_id", "action", "old_value", "new_value", "ip_address",
                  "user_agent", "created_at"]
        read_only_fields = fields
