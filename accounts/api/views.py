"""The caller's own identity: the smallest end-to-end check of API authentication."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey


class MeView(APIView):
    """Return who the request is authenticated as, and with which key (never its secret)."""

    permission_code = "authenticated"

    @extend_schema(
        summary="Who am I",
        responses=inline_serializer(
            "Me",
            {
                "id": serializers.UUIDField(),
                "username": serializers.CharField(),
                "tenant": serializers.CharField(),
                "api_key": inline_serializer(
                    "MeApiKey",
                    {
                        "prefix": serializers.CharField(),
                        "name": serializers.CharField(),
                        "scopes": serializers.ListField(child=serializers.CharField()),
                    },
                    allow_null=True,
                ),
            },
        )
    )
    def get(self, request: Request) -> Response:
        user = request.user
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        return Response(
            {
                "id": str(user.pk),
                "username": user.username,
                "tenant": user.tenant.code,
                "api_key": (
                    {"prefix": api_key.prefix, "name": api_key.name, "scopes": api_key.scopes}
                    if api_key is not None
                    else None
                ),
            }
        )
