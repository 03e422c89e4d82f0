"""A URLconf for the registry's tests: a route that declares its permission, one that does
not, and one open to anonymous callers."""

from django.urls import include, path
from rest_framework import viewsets
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from rbac.api.permissions import EndpointSwitches


class UndeclaredViewSet(viewsets.ViewSet):
    """Name no model and no permission code: the registry must refuse it."""

    def list(self, request):
        return Response([])


class DeclaredView(APIView):
    """Declare its permission code explicitly."""

    permission_code = "user:view"

    def get(self, request):
        return Response({})


class PublicView(APIView):
    """Answer anybody, signed in or not."""

    permission_classes = [EndpointSwitches]
    permission_code = "authenticated"

    def get(self, request):
        return Response({"public": True})


router = SimpleRouter()
router.register("undeclared", UndeclaredViewSet, basename="undeclared")

urlpatterns = [
    path("api/v1/declared/", DeclaredView.as_view()),
    path("api/v1/public/", PublicView.as_view()),
    path("api/v1/", include(router.urls)),
]
