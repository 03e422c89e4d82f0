"""Users with their roles: the accounts user API, extended with the roles RBAC grants."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from accounts.api import serializers as accounts_serializers
from accounts.api import viewsets as accounts_viewsets
from rbac import grants
from rbac.models import Role, UserRole


class UserSerializer(accounts_serializers.UserSerializer):
    roles = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Role.objects.all(),
        help_text=gettext_lazy(
            "Ids of the user's roles; you can give only roles within your own rights."
        ),
    )

    class Meta(accounts_serializers.UserSerializer.Meta):
        fields = ["id", "tenant", "username", "password", "name", "email", "phone", "department",
                  "position", "language", "status", "is_staff", "is_superuser", "roles",
                  "locked_until", "last_login_at", "last_login_ip", "created_at", "updated_at"]

    def validate_roles(self, roles: list[Role]) -> list[Role]:
        held = set() if self.instance is None else set(
            UserRole.objects.filter(user=self.instance).values_list("role_id", flat=True)
        )
        added = [role for role in roles if role.pk not in held]
        grants.check_role_assignment(grants.Granter.of(self.context.get("request")), added,
                                     field="roles")
        return roles

    @transaction.atomic
    def _save(self, instance, validated_data):
        roles = validated_data.pop("roles", None)
        user = super()._save(instance, validated_data)
        if roles is not None:
            for role in roles:
                if role.tenant_id != user.tenant_id:
                    raise serializers.ValidationError(
                        {"roles": _("Choose roles of the user's tenant.")}
                    )
            UserRole.objects.filter(user=user).exclude(role__in=roles).delete()
            held = set(UserRole.objects.filter(user=user).values_list("role_id", flat=True))
            UserRole.objects.bulk_create(
                [UserRole(user=user, role=role) for role in roles if role.pk not in held]
            )
        return user


class UserViewSet(accounts_viewsets.UserViewSet):
    """Users of the tenant."""

    serializer_class = UserSerializer

    def optimise(self, queryset):
        return queryset.prefetch_related(
            Prefetch("roles", queryset=Role.objects.all_tenants().only("id"))
        )
