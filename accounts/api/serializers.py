"""Serializers of users, departments and positions (the user's roles: ``rbac.api.users``)."""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from accounts.models import Department, Position, User
from tenants.api.base import PlatformSerializer


class DepartmentSerializer(PlatformSerializer):
    level = serializers.SerializerMethodField(help_text=gettext_lazy("1 for a top-level department, up to 5."))

    class Meta:
        model = Department
        fields = ["id", "tenant", "code", "name", "parent", "status", "level",
                  "created_at", "updated_at", "created_by", "updated_by"]

    def get_level(self, department: Department) -> int:
        return department.level + 1


class PositionSerializer(PlatformSerializer):
    class Meta:
        model = Position
        fields = ["id", "tenant", "code", "name", "sort_order", "status", "description",
                  "created_at", "updated_at", "created_by", "updated_by"]


class UserSerializer(PlatformSerializer):
    password = serializers.CharField(
        write_only=True, required=False, style={"input_type": "password"},
        help_text=gettext_lazy("Set on creation or to change it; never returned."),
    )

    class Meta:
        model = User
        fields = ["id", "tenant", "username", "password", "name", "email", "phone", "department",
                  "position", "language", "status", "is_staff", "is_superuser", "locked_until",
                  "last_login_at", "last_login_ip", "created_at", "updated_at"]
        read_only_fields = ["is_superuser", "locked_until", "last_login_at", "last_login_ip"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data.pop("password", None)
        return data

    def validate_password(self, value: str) -> str:
        password_validation.validate_password(value, self.instance)
        return value

    def validate(self, attrs: dict) -> dict:
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": _("Set a password for the new user.")})
        return attrs

    @transaction.atomic
    def _save(self, instance, validated_data):
        password = validated_data.pop("password", None)
        if password:
            instance.set_password(password)
        return super()._save(instance, validated_data)
