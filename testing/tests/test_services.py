"""The services of the design domain: the database connection test under the network
policy, the scenario JSON round trip, step ordering, and the demo data."""

from __future__ import annotations

import io
import ipaddress
import socket

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings

from conftest import require_service
from core.context import tenant_context
from tenants.network import outbound_policy as policy_for
from testing.choices import ConnectionStatus, StepKind
from testing.models import (
    BuiltinKeyword,
    DatabaseConfig,
    Interface,
    Keyword,
    Project,
    Scenario,
    Variable,
)
from testing.services.databases import check_connection
from testing.services.scenarios import (
    duplicate_step,
    export_scenario,
    import_scenario,
    move_step,
    reorder_steps,
)
from testing.tests import factories as f

pytestmark = pytest.mark.django_db
LOOPBACK = ["127.0.0.0/8", "::1/128"]


def database(tenant, **fields):
    values = {"name": "Orders", "variable_name": "orders_db", "db_type": "mysql",
              "host": "127.0.0.1", "port": 3306, "username": "root", "password": ""}
    values.update(fields)
    return f.make(DatabaseConfig, tenant, project=f.project(tenant), **values)


@pytest.fixture
def never_connects(monkeypatch):
    """Fail the test if anything opens a TCP connection."""
    def refuse(*args, **kwargs):
        raise AssertionError("a connection was attempted")
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


# The connection test


def test_loopback_database_is_refused_by_default(tenant_a, never_connects):
    """Without an allowance a private address is refused before anything is sent."""
    config = check_connection(database(tenant_a))
    assert config.connection_status == ConnectionStatus.FAILED
    assert "does not call" in config.status_message
    with tenant_context(tenant_a):
        assert DatabaseConfig.objects.get(pk=config.pk).last_tested_at is not None


@override_settings(OUTBOUND_ALLOWED_NETWORKS=LOOPBACK,
                   CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
def test_platform_service_endpoint_is_refused_unless_named(tenant_a, never_connects):
    """The broker's port stays refused when only the network is allowed, until it is named."""

    redis = (ipaddress.ip_address("127.0.0.1"), 6379)
    assert redis in policy_for(tenant_a).refused_endpoints
    config = check_connection(database(tenant_a, db_type="postgresql", port=6379))
    assert config.connection_status == ConnectionStatus.FAILED
    with override_settings(OUTBOUND_ALLOWED_SERVICE_ENDPOINTS=["127.0.0.1:6379"]):
        assert redis not in policy_for(tenant_a).refused_endpoints


@override_settings(OUTBOUND_ALLOWED_NETWORKS=["169.254.0.0/16"])
def test_metadata_address_is_refused_even_when_allowed(tenant_a, never_connects):
    config = check_connection(database(tenant_a, host="169.254.169.254", port=80))
    assert config.connection_status == ConnectionStatus.FAILED


def test_tenant_networks_apply_to_that_tenant_only(tenant_a, tenant_b, never_connects):
    """An operator's allowance for tenant A does not open the network to tenant B."""
    tenant_a.outbound_networks = ["127.0.0.0/8"]
    tenant_a.save()
    assert policy_for(tenant_a).allowed_networks and not policy_for(tenant_b).allowed_networks


def test_tenant_networks_are_validated(tenant_a):
    tenant_a.outbound_networks = ["10.0.0.0/8", "not-a-network", "169.254.0.0/16"]
    with pytest.raises(ValidationError) as caught:
        tenant_a.full_clean()
    text = " ".join(caught.value.message_dict["outbound_networks"])
    assert "Item 1" in text and "Item 2" in text and "Item 0" not in text


@override_settings(OUTBOUND_ALLOWED_NETWORKS=LOOPBACK,
                   OUTBOUND_ALLOWED_SERVICE_ENDPOINTS=["127.0.0.1:3306"])
def test_connects_to_a_real_mariadb_when_allowed(tenant_a):
    require_service("127.0.0.1", 3306, "MariaDB")
    config = check_connection(database(tenant_a))
    assert config.connection_status == ConnectionStatus.CONNECTED, config.status_message


@override_settings(OUTBOUND_ALLOWED_NETWORKS=LOOPBACK,
                   OUTBOUND_ALLOWED_SERVICE_ENDPOINTS=["127.0.0.1:3306"])
def test_wrong_password_fails_with_a_reason_that_hides_it(tenant_a):
    require_service("127.0.0.1", 3306, "MariaDB")
    config = check_connection(database(tenant_a, username="nobody-here",
                                       password="Wrong-pass-123"))
    assert config.connection_status == ConnectionStatus.FAILED
    assert "Access denied" in config.status_message
    assert "Wrong-pass-123" not in config.status_message


# Scenario JSON


def scenario_with_everything(tenant):
    project = f.project(tenant, "Source")
    f.make(DatabaseConfig, tenant, project=project, name="Orders", variable_name="orders",
           db_type="mysql", host="db.example.com", port=3306, username="app", password="pw")
    with tenant_context(tenant):
        config = DatabaseConfig.objects.get(project=project)
    scenario = f.scenario(project, tags=["smoke"], variables={"user": "ann"},
                          database_config=config, pre_sql="DELETE FROM carts")
    f.step(scenario, kind=StepKind.INTERFACE,
           interface=f.interface(project, assertions=[{"type": "status_code", "operator": "==",
                                                       "expected_value": 200}]),
           parameters={"extractors": [{"name": "id", "source": "json", "expression": "$.id"}]})
    f.step(scenario, kind=StepKind.KEYWORD, keyword=f.keyword(project),
           parameters={"payload": "{{id}}"}, is_enabled=False)
    f.step(scenario, kind=StepKind.KEYWORD, builtin_keyword=BuiltinKeyword.objects.get(code="wait"),
           parameters={"seconds": 1})
    f.step(scenario, kind=StepKind.REQUEST, parameters={"method": "DELETE", "url": "/carts/1"})
    return scenario


def test_scenario_round_trip_into_another_project(tenant_a):
    """Export, import into another project of the tenant, export again: the same document."""
    source = scenario_with_everything(tenant_a)
    target = f.project(tenant_a, "Target")
    f.make(DatabaseConfig, tenant_a, project=target, name="Orders copy", variable_name="orders",
           db_type="mysql", host="db2.example.com", port=3306, username="app")
    with tenant_context(tenant_a):
        document = export_scenario(source)
        copy = import_scenario(project=target, data=document)
        assert export_scenario(copy) == document
        assert Interface.objects.filter(project=target).count() == 1
        assert Keyword.objects.filter(project=target).count() == 1
    assert "pw" not in str(document)


def test_import_is_all_or_nothing_and_names_the_place(tenant_a):
    source = scenario_with_everything(tenant_a)
    with tenant_context(tenant_a):
        document = export_scenario(source)
        document["scenario"]["database"] = None
        document["scenario"]["pre_sql"] = ""
        document["steps"][2]["parameters"] = {"seconds": "soon"}
        target = Project.objects.create(name="Target")
        with pytest.raises(ValidationError) as caught:
            import_scenario(project=target, data=document)
        assert "steps[2].parameters" in " ".join(caught.value.messages)
        assert not Interface.objects.filter(project=target).exists()


def test_import_needs_the_database_by_name(tenant_a):
    source = scenario_with_everything(tenant_a)
    with tenant_context(tenant_a):
        target = Project.objects.create(name="Target")
        with pytest.raises(ValidationError) as caught:
            import_scenario(project=target, data=export_scenario(source))
    assert "no database named orders" in " ".join(caught.value.messages)


def test_import_refuses_what_is_not_an_export(tenant_a):
    with tenant_context(tenant_a), pytest.raises(ValidationError):
        import_scenario(project=f.project(tenant_a), data={"steps": []})


# Step order


def titles(scenario):
    with tenant_context(scenario.tenant):
        return [step.description for step in scenario.steps.all()]


def test_reorder_move_and_duplicate(tenant_a):
    scenario = f.scenario(f.project(tenant_a))
    steps = [f.step(scenario, kind=StepKind.KEYWORD, description=name,
                    builtin_keyword=BuiltinKeyword.objects.get(code="wait"),
                    parameters={"seconds": 0}) for name in "abc"]
    with tenant_context(tenant_a):
        reorder_steps(scenario, [steps[2].pk, steps[0].pk, steps[1].pk])
        assert titles(scenario) == ["c", "a", "b"]
        move_step(steps[1], -1)
        assert titles(scenario) == ["c", "b", "a"]
        duplicate_step(steps[2])
        assert titles(scenario) == ["c", "c", "b", "a"]
        with pytest.raises(ValidationError):
            reorder_steps(scenario, [steps[0].pk])


def test_reorder_refuses_another_scenarios_step(tenant_a):
    project = f.project(tenant_a)
    one, two = f.scenario(project, "One"), f.scenario(project, "Two")
    wait = BuiltinKeyword.objects.get(code="wait")
    mine = f.step(one, kind=StepKind.KEYWORD, builtin_keyword=wait, parameters={"seconds": 0})
    theirs = f.step(two, kind=StepKind.KEYWORD, builtin_keyword=wait, parameters={"seconds": 0})
    with tenant_context(tenant_a), pytest.raises(ValidationError):
        reorder_steps(one, [mine.pk, theirs.pk])


# Demo data


@pytest.mark.django_db(databases="__all__")  # seed_demo's usage rollup: the analytics alias
def test_seed_demo_builds_the_testing_demo_once(platform):
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    from tenants.models import Tenant
    acme, globex = Tenant.objects.get(code="acme"), Tenant.objects.get(code="globex")
    with tenant_context(acme):
        project = Project.objects.get()
        assert project.created_by.username == "tester"
        key = Variable.objects.get(name="api_key")
        assert key.is_secret and key.value == "" and key.plain_value.startswith("atr_")
        scenario = Scenario.objects.get(project=project, name="Who am I, and am I listed")
        assert scenario.steps.count() == 3
        python = Scenario.objects.get(project=project, name="Checks written in Python")
        assert [step.kind for step in python.steps.order_by("sort_order")] == [
            "interface", "keyword", "keyword"]
    with tenant_context(globex):
        assert not Project.objects.exists()
    with tenant_context(acme):
        project.hard_delete()
    call_command("seed_demo", stdout=io.StringIO())  # the project again, with a new key
    with tenant_context(acme):
        assert Project.objects.get().name == project.name
        assert Variable.objects.get(name="api_key").plain_value != key.plain_value


@pytest.mark.parametrize("damage", [
    lambda d: d["interfaces"][0].update(name=[]),
    lambda d: d["steps"][0].update(interface={"name": "x"}),
    lambda d: d["scenario"].update(name=["x"]),
    lambda d: d.update(keywords={"a": 1}),
    lambda d: d["steps"][1].update(description=7),
])
def test_import_refuses_values_of_the_wrong_type(tenant_a, damage):
    """Names and texts of the wrong JSON type are refused naming where, never a TypeError."""
    source = scenario_with_everything(tenant_a)
    with tenant_context(tenant_a):
        document = export_scenario(source)
        document["scenario"].update(database=None, pre_sql="")
        damage(document)
        with pytest.raises(ValidationError):
            import_scenario(project=Project.objects.create(name="Target"), data=document)
