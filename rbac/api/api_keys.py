"""API of API keys: issue (the key is in the creation response only), list, narrow, revoke."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.services import api_keys
from accounts.models import ApiKey
from rbac.access import get_access
from tenants.api.base import SoftDeleteViewSet


class ApiKeySerializer(serializers.ModelSerializer):
    """A key as shown after creation: the prefix identifies it; the secret is never shown."""

    # Declared, not derived from the model's JSON fields, so that anything but a list of
    # strings is a 400 here (a JSON field would take an object and list() its keys).
    scopes = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False,
        help_text=gettext_lazy("Permission codes (resource:action) the key may use, within "
                               "your own; with an API key, within that key's."),
    )
    allowed_ips = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False,
        help_text=gettext_lazy("IP addresses and CIDR networks the key may be used from. "
                               "Empty: anywhere (with an API key: that key's networks)."),
    )

    class Meta:
        model = ApiKey
        fields = ["id", "user", "name", "prefix", "scopes", "expires_at", "allowed_ips",
                  "revoked_at", "last_used_at", "last_used_ip", "created_at"]
        read_only_fields = ["id", "user", "prefix", "revoked_at", "last_used_at",
                            "last_used_ip", "created_at"]


class ApiKeyChangeSerializer(serializers.Serializer):
    """What may change on an issued key: its name, and its scopes narrowed."""

    name = serializers.CharField(max_length=ApiKey._meta.get_field("name").max_length,
                                 required=False)
    scopes = serializers.ListField(child=serializers.CharField(max_length=100), required=False,
                                   help_text=gettext_lazy("A subset of the key's scopes."))

    def validate(self, attrs: dict) -> dict:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: _("Only the name and (narrower) scopes of a key can change.")
                 for name in sorted(unknown)}
            )
        return attrs


class IssuedApiKeySerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text=gettext_lazy("The key itself: shown this once only."))

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


class ApiKeyViewSet(SoftDeleteViewSet):
    """API keys. You issue keys for yourself, with scopes within your own permissions."""

    queryset = ApiKey.objects.all()
    serializer_class = ApiKeySerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filterset_fields = ["user"]
    search_fields = ["name", "prefix"]
    ordering = ["-created_at"]

    def _allowed(self):
        user = self.request.user
        return None if user.is_superuser else set(get_access(user).permissions)

    def _calling_key(self) -> ApiKey | None:
        """Return the API key this request was made with, if any (REST or an MCP call)."""
        key = self.request.auth
        return key if isinstance(key, ApiKey) else None

    @extend_schema(responses={201: IssuedApiKeySerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key, plaintext = api_keys.issue_api_key(
            user=request.user,
            name=data["name"],
            scopes=data.get("scopes", []),
            expires_at=data.get("expires_at"),
            allowed_ips=data.get("allowed_ips", []),
            allowed_scopes=self._allowed(),
            parent=self._calling_key(),
        )
        key.key = plaintext
        return Response(IssuedApiKeySerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ApiKeyChangeSerializer)
    def partial_update(self, request, *args, **kwargs):
        key = self.get_object()
        change = ApiKeyChangeSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        data = change.validated_data
        with transaction.atomic():
            if "scopes" in data:
                key = api_keys.narrow_scopes(api_key=key, scopes=data["scopes"])
            if "name" in data:
                key.name = data["name"]
                key.full_clean()
                key.save(update_fields=["name"])
        return Response(self.get_serializer(key).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke the key at once; it cannot be used again."""
        key = api_keys.revoke_api_key(api_key=self.get_object())
        return Response(self.get_serializer(key).data)

    rbac_actions = {"revoke": "update"}
