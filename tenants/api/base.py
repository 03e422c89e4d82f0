"""The base serializer and viewset every resource of the API declares itself on.

Cross-cutting rules live here, NetBox style, not in each view:

* Scoping: querysets come from the model's fail-closed manager, so another tenant's row is
  404, and the user's data scope narrows them (``tenants.scoping.restrict``, which is RBAC's
  decision; 404 outside).
* Permission: the API's default permission classes (``REST_FRAMEWORK`` in the settings:
  signed in, then ``rbac.api.permissions.RbacPermission``) ask the one decision for the code
  of the action (``user:update``), narrowed by an API key's scopes, and apply the endpoint
  registry's switches.
* Validation: writes run the model's ``full_clean`` (field rules, cross-tenant references,
  per-tenant uniqueness), so bad input is a 400 with field errors, never a 500.
* Soft delete: ``DELETE`` soft-deletes (refused with a 400 naming what still depends on
  the row); ``POST .../restore/`` brings a row back.
* Tenant: a tenant user's writes land in their tenant; a platform operator names the
  tenant in the body (required, no default).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from tenants.models import Tenant, TenantScopedModel
from tenants.scoping import restrict

# Columns of the base models that the API never accepts from a client.
INTERNAL_FIELDS = ("alive", "is_deleted", "deleted_by", "password")
AUDIT_FIELDS = ("created_at", "updated_at", "created_by", "updated_by", "deleted_at")


def is_operator(request) -> bool:
    """Return whether the request comes from a platform operator."""
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and user.is_platform_operator)


class PlatformSerializer(serializers.ModelSerializer):
    """Model serializer that validates through the model and handles the tenant column."""

    def get_fields(self):
        fields = super().get_fields()
        for name in INTERNAL_FIELDS:
            # A serializer that declares one itself (the user's write-only password) keeps it.
            if name not in self._declared_fields:
                fields.pop(name, None)
        for name in AUDIT_FIELDS:
            if name in fields:
                fields[name].read_only = True
        tenant = fields.get("tenant")
        if tenant is not None:
            request = self.context.get("request")
            creating = self.instance is None
            if request is not None and is_operator(request) and creating:
                tenant.read_only = False
                tenant.required = True
                tenant.queryset = Tenant.objects.all()
            else:
                fields["tenant"] = serializers.PrimaryKeyRelatedField(read_only=True)
        return fields

    def _save(self, instance, validated_data):
        many_to_many = {
            name: validated_data.pop(name)
            for name in list(validated_data)
            if name in {f.name for f in instance._meta.many_to_many}
        }
        for name, value in validated_data.items():
            setattr(instance, name, value)
        if isinstance(instance, TenantScopedModel):
            instance.assign_tenant_from_context()
        instance.full_clean()
        if isinstance(instance, TenantScopedModel):
            # full_clean checks foreign keys only; an operator's querysets span every tenant.
            for name, values in many_to_many.items():
                related = instance._meta.get_field(name).related_model
                if issubclass(related, TenantScopedModel) and any(
                    value.tenant_id != instance.tenant_id for value in values
                ):
                    raise ValidationError({name: _("Choose records of the same tenant.")})
        instance.save()
        for name, value in many_to_many.items():
            getattr(instance, name).set(value)
        return instance

    @transaction.atomic
    def create(self, validated_data):
        return self._save(self.Meta.model(), validated_data)

    @transaction.atomic
    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class ScopedQuerysetMixin:
    """Querysets from the fail-closed manager, narrowed to the user's data scope."""

    def get_queryset(self):
        manager = self.queryset.model._default_manager
        if getattr(self, "action", None) == "restore" and hasattr(manager, "deleted"):
            queryset = manager.deleted()
        else:
            queryset = manager.get_queryset()
        return restrict(self.optimise(queryset), self.request.user)

    def optimise(self, queryset):
        """Return the queryset with the joins the serializer needs (override per resource)."""
        return queryset


class PlatformReadOnlyViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """List and retrieve one model (logs, the permission catalogue)."""


class PlatformViewSet(ScopedQuerysetMixin, viewsets.ModelViewSet):
    """List, retrieve, create, update, partial update and delete one model."""

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def perform_create(self, serializer) -> None:
        with transaction.atomic():
            serializer.save()
            self.check_still_in_scope(serializer.instance)

    def perform_update(self, serializer) -> None:
        with transaction.atomic():
            serializer.save()
            self.check_still_in_scope(serializer.instance)

    def check_still_in_scope(self, instance) -> None:
        """Roll the write back when it put the row outside the user's data scope."""
        model = type(instance)
        if not restrict(model._default_manager.filter(pk=instance.pk), self.request.user).exists():
            raise ValidationError(
                _("The result would lie outside your data scope; nothing was saved.")
            )

    def perform_destroy(self, instance) -> None:
        instance.delete()


class SoftDeleteViewSet(PlatformViewSet):
    """A viewset of a soft-deletable model: DELETE soft-deletes, POST restore/ restores."""

    @extend_schema(request=None, description="Bring a soft-deleted row back.")
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        """Restore a soft-deleted row; 400 when a live row has taken its unique keys."""
        instance = self.get_object()
        instance.restore()
        return Response(self.get_serializer(instance).data)
