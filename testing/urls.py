"""Routes of the tester pages under /testing/ (namespace "testing")."""

from __future__ import annotations

from importlib import import_module

app_name = "testing"

# Each area of the pages declares its routes in its own module (testing/views/<area>.py).
AREAS = ("projects", "environments", "databases", "keywords", "datasets", "plans",
         "interfaces", "scenarios")

urlpatterns = []
for area in AREAS:
    try:
        module = import_module(f"testing.views.{area}")
    except ModuleNotFoundError as exc:
        if exc.name != f"testing.views.{area}":
            raise
        continue
    urlpatterns += module.urlpatterns
