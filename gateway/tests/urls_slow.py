"""The project's URLconf plus one slow endpoint, for the tests of an ``api`` tool's timeout.

``GET /api/v1/slow/`` runs one statement that takes seconds (``config.tests.slow_sql``);
``POST`` first renames the position named in the body, then runs it. A tool's timeout
must cut both short.
"""

from django.db import connection
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Position
from config.urls import urlpatterns as project_urlpatterns
from core.tests.slow_sql import SLOW_SQL


def run_slow_statement() -> None:
    with connection.cursor() as cursor:
        cursor.execute(SLOW_SQL[connection.vendor])


class SlowView(APIView):
    """Take far longer than any tool's timeout."""

    permission_code = "position:update"

    def get(self, request):
        run_slow_statement()
        return Response({"done": True})

    def post(self, request):
        Position.objects.filter(pk=request.data["id"]).update(name=request.data["name"])
        run_slow_statement()
        return Response({"done": True})


urlpatterns = [path("api/v1/slow/", SlowView.as_view()), *project_urlpatterns]
