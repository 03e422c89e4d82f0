"""API of notifications: the signed-in user's inbox, and sending/managing for senders."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Department, User
from notifications import services as notifications
from notifications.models import Notification
from rbac.models import Role
from tenants.api.base import PlatformSerializer, SoftDeleteViewSet
from tenants.models import Tenant


class NotificationSerializer(PlatformSerializer):
    """A notification and its targets; created through ``send_notification``."""

    users = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=User.objects.all())
    departments = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Department.objects.all(),
        help_text=gettext_lazy(
            "A department reaches its users and those of every department below it."
        ),
    )
    roles = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Role.objects.all())

    class Meta:
        model = Notification
        fields = ["id", "tenant", "type", "level", "title", "content", "sender", "audience",
                  "users", "departments", "roles", "status", "published_at", "expires_at",
                  "created_at", "updated_at"]
        read_only_fields = ["sender"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["users"] = [str(t.user_id) for t in instance.user_targets.all()]
        data["departments"] = [str(t.department_id) for t in instance.department_targets.all()]
        data["roles"] = [str(t.role_id) for t in instance.role_targets.all()]
        return data

    def create(self, validated_data):
        request = self.context["request"]
        tenant = validated_data.pop("tenant", None) or Tenant.objects.get(pk=request.user.tenant_id)
        sender = request.user if request.user.tenant_id == tenant.pk else None
        return notifications.send_notification(tenant=tenant, sender=sender, **validated_data)

    def update(self, instance, validated_data):
        for name in ("users", "departments", "roles", "audience"):
            if name in validated_data:
                raise serializers.ValidationError(
                    {name: _("The audience of a sent notification is fixed.")}
                )
        return super().update(instance, validated_data)


class NotificationViewSet(SoftDeleteViewSet):
    """Notifications of the tenant, for those who send and manage them (notification:*)."""

    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filterset_fields = ["type", "level", "audience", "status"]
    search_fields = ["title", "content"]
    ordering_fields = ["published_at", "created_at", "title"]
    ordering = ["-published_at"]

    def optimise(self, queryset):
        return queryset.prefetch_related("user_targets", "department_targets", "role_targets")


class InboxSerializer(serializers.ModelSerializer):
    is_read = serializers.BooleanField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "type", "level", "title", "content", "sender", "published_at",
                  "expires_at", "is_read"]
        read_only_fields = fields


class InboxViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The notifications the signed-in user receives, with read receipts.

    Every signed-in user has an inbox: it needs no permission beyond being signed in.
    """

    serializer_class = InboxSerializer
    permission_code = "authenticated"
    queryset = Notification.objects.all()
    filterset_fields = ["type", "level"]
    search_fields = ["title", "content"]

    def get_queryset(self):
        return notifications.notifications_for(self.request.user)

    @extend_schema(request=None, responses=InboxSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        """Mark one notification read (idempotent)."""
        notification = self.get_object()
        notifications.mark_read(request.user, notification)
        return Response(self.get_serializer(self.get_queryset().get(pk=notification.pk)).data)

    @extend_schema(request=None, responses={200: {"type": "object", "properties": {"marked": {"type": "integer"}}}})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        """Mark every received notification read; answer how many were unread."""
        return Response({"marked": notifications.mark_all_read(request.user)})

    @extend_schema(responses={200: {"type": "object", "properties": {"unread": {"type": "integer"}}}})
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request):
        """Answer how many received notifications are unread."""
        return Response({"unread": notifications.unread_count(request.user)})
