"""Fixtures of the testing app's tests: a project in each of the two tenants."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from testing.tests.page_cases import make_project


@pytest.fixture
def project_a(tenant_a):
    return make_project(tenant_a, "Shop A")


@pytest.fixture
def project_b(tenant_b):
    return make_project(tenant_b, "Shop B")


@contextmanager
def zh_hans_catalogue_with(translations: dict[str, str]):
    """Give the zh-hans catalogue ``translations`` for the block, then restore it (tests of
    messages whose msgids the compiled catalogue may not hold yet)."""
    from django.utils.translation import trans_real

    catalogue = trans_real.translation("zh-hans")._catalog._catalogs[0]
    before = {msgid: catalogue.get(msgid) for msgid in translations}
    catalogue.update(translations)
    try:
        yield
    finally:
        for msgid, value in before.items():
            if value is None:
                catalogue.pop(msgid, None)
            else:
                catalogue[msgid] = value


def as_stored_in_english(used: dict) -> dict:
    """Return a variable read as the engine stored it, without the ``origin_i18n`` beside
    its English ``origin`` (tests of values and origins, not of their translation)."""
    return {key: value for key, value in used.items() if key != "origin_i18n"}
