"""Routes of the tester pages under /testing/ (namespace "testing").

Each area of the pages declares its routes in its own module (``testing/views/<area>.py``).
"""

from __future__ import annotations

from testing.views import (
    databases,
    datasets,
    environments,
    imports,
    interfaces,
    keywords,
    plans,
    projects,
    runs,
    scenarios,
)

app_name = "testing"

urlpatterns = [
    *projects.urlpatterns,
    *environments.urlpatterns,
    *databases.urlpatterns,
    *keywords.urlpatterns,
    *datasets.urlpatterns,
    *plans.urlpatterns,
    *interfaces.urlpatterns,
    *scenarios.urlpatterns,
    *runs.urlpatterns,
    *imports.urlpatterns,
]
