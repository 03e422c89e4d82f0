"""Fixtures of the MCP gateway's tests (the shared ones live in the root conftest.py)."""

from __future__ import annotations

import pytest
from django.test import Client

from gateway.enforcement import invalidate


@pytest.fixture(autouse=True)
def fresh_endpoint_rules():
    """Start and end every test with no cached endpoint rules.

    A test's rows are rolled back without signals, so rules cached from them would
    otherwise outlive it and switch routes off for the tests that follow.
    """
    invalidate()
    yield
    invalidate()


@pytest.fixture
def operator_api(operator) -> Client:
    """A client of its own signed in as a platform operator (beside ``client_a``)."""
    client = Client()
    client.force_login(operator)
    return client
