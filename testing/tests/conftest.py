"""Fixtures of the testing app's tests: a project in each of the two tenants."""

from __future__ import annotations

import pytest

from testing.tests.page_cases import make_project


@pytest.fixture
def project_a(tenant_a):
    return make_project(tenant_a, "Shop A")


@pytest.fixture
def project_b(tenant_b):
    return make_project(tenant_b, "Shop B")
