"""API viewsets of users, departments and positions."""

from __future__ import annotations

from accounts.api.serializers import (
    DepartmentSerializer,
    PositionSerializer,
    UserSerializer,
)
from accounts.models import Department, Position, User
from tenants.api.base import SoftDeleteViewSet


class UserViewSet(SoftDeleteViewSet):
    """Users of the tenant, without their roles (served with them by ``rbac.api.users``)."""

    queryset = User.objects.all()
    serializer_class = UserSerializer
    filterset_fields = ["status", "department", "position", "is_staff"]
    search_fields = ["username", "name", "email", "phone"]
    ordering_fields = ["username", "name", "created_at", "last_login_at"]
    ordering = ["username"]


class DepartmentViewSet(SoftDeleteViewSet):
    """Departments of the tenant (a tree of at most five levels)."""

    queryset = Department.objects.all()
    serializer_class = DepartmentSerializer
    filterset_fields = ["status", "parent"]
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name", "created_at"]
    ordering = ["tree_id", "lft"]


class PositionViewSet(SoftDeleteViewSet):
    """Positions of the tenant."""

    queryset = Position.objects.all()
    serializer_class = PositionSerializer
    filterset_fields = ["status"]
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name", "sort_order", "created_at"]
    ordering = ["sort_order", "code"]
