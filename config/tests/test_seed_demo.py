"""The demo data command."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from config.management.commands.seed_demo import DEMO_PASSWORD
from accounts.models import Department, Position, User
from accounts.services import Credentials, sign_in
from gateway.models import McpTool
from tenants.models import Tenant


def counts() -> tuple[int, int, int, int, int]:
    return (
        Tenant.objects.count(),
        User.objects.all_tenants().count(),
        Department.objects.all_tenants().count(),
        Position.objects.all_tenants().count(),
        McpTool.objects.all_tenants().filter(is_public=True).count(),
    )


@pytest.mark.django_db(databases="__all__")  # its usage rollup is on the analytics alias
def test_seed_demo_is_idempotent_and_its_logins_work(capsys):
    """Running it twice creates the data once; every printed sign-in works."""
    call_command("seed_demo")
    first = counts()
    call_command("seed_demo")
    assert counts() == first == (3, 7, 7, 6, 3)
    output = capsys.readouterr().out
    assert "tenant 'acme'" in output and DEMO_PASSWORD in output
    for tenant_code, username in [("platform", "admin"), ("acme", "admin"), ("acme", "alice"),
                                  ("acme", "tester"), ("globex", "admin"), ("globex", "alice"),
                                  ("globex", "tester")]:
        result = sign_in(Credentials(tenant_code, username, DEMO_PASSWORD))
        assert result.ok, (tenant_code, username, result.refusal)
    operator = User.objects.all_tenants().get(tenant__is_platform=True, username="admin")
    assert operator.is_superuser and operator.is_platform_operator
    acme_admin = User.objects.all_tenants().get(tenant__code="acme", username="admin")
    assert acme_admin.is_staff and not acme_admin.is_superuser
    assert acme_admin.has_perm("accounts.change_user")
    tester = User.objects.all_tenants().get(tenant__code="acme", username="tester")
    assert tester.has_perm("scenario:update") and tester.has_perm("project:create")
    assert not tester.is_staff and not tester.has_perm("user:update")
    assert not acme_admin.has_perm("tenants.change_tenant")
