"""A duplicate that slips past validation is the same 400 as one that does not (issue 10,
item 4).

Two requests with the same code can both pass validation; the database refuses the second
write. ``core.integrity`` reads which unique rule the database named, and the API, the
admin and every other writer answer with the error validation gives.

The race is reproduced two ways. Deterministically: a ``pre_save`` receiver has another
connection commit the rival row in the gap between validation and the INSERT, exactly where
a concurrent request would. And with real load on MariaDB and PostgreSQL: many threads POST
the same codes to a live server at once.

On SQLite a write transaction holds the database's write lock from its first statement
(``transaction_mode = IMMEDIATE``), and the API and the admin validate inside theirs, so no
rival can commit in that gap: the race cannot happen there. The rival is then written on the
request's own connection, which makes the database refuse the INSERT in the same way (and
the rival goes when the request's transaction rolls back), so the mapping is still proven
on SQLite; the admin's second validation, which needs the rival to stay, is proven on the
server backends.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, connections, transaction
from django.db.models.signals import pre_save
from django.urls import reverse

from accounts.services.api_keys import issue_api_key
from accounts.models import Department, Position
from core.context import tenant_context
from core.integrity import rules, unique_violation
from rbac.models import Menu, Role, UserRole
from tenants.models import TenantPackage

POSITIONS = reverse("api:position-list")
DUPLICATE = "A position with this code already exists."


SERVER_ONLY = "SQLite serialises write transactions: the race cannot happen there (see above)"
race_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def committed_elsewhere(make_rival) -> None:
    """Run ``make_rival`` on another connection and commit it (SQLite: on this one)."""
    if connection.vendor == "sqlite":
        make_rival()
        return
    failures = []

    def run():
        try:
            make_rival()
        except Exception as exc:  # noqa: BLE001  (re-raised in the test's thread)
            failures.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


@contextlib.contextmanager
def rival_saved_first(model, make_rival):
    """Commit ``make_rival()`` just before the next save of ``model`` reaches the database,
    after its validation passed: what a concurrent request does in a race."""
    fired = []

    def receiver(sender, instance, **kwargs):
        if not fired:
            fired.append(instance)
            committed_elsewhere(make_rival)

    pre_save.connect(receiver, sender=model, weak=False)
    try:
        yield fired
    finally:
        pre_save.disconnect(receiver, sender=model)


def rival_position(tenant, code: str):
    def make():
        # bulk_create skips validation and signals: the row lands as a rival's INSERT would.
        with tenant_context(tenant):
            Position.objects.bulk_create([Position(tenant=tenant, code=code, name="Rival")])
    return make


@race_db
def test_a_raced_api_create_is_the_validation_400(client_a, tenant_a):
    """The database's refusal answers exactly what validation answers for a duplicate."""
    with tenant_context(tenant_a):
        Position.objects.create(code="dup", name="Existing")
    plain = client_a.post(POSITIONS, {"code": "dup", "name": "QA"}, content_type="application/json")
    assert plain.status_code == 400
    with rival_saved_first(Position, rival_position(tenant_a, "qa")) as fired:
        raced = client_a.post(POSITIONS, {"code": "qa", "name": "QA"},
                              content_type="application/json")
    assert fired, "the rival was not inserted: the race was not reproduced"
    assert raced.status_code == 400, raced.content
    assert raced.json() == plain.json()
    assert raced.json()["error"]["fields"] == {"non_field_errors": [DUPLICATE]}
    with tenant_context(tenant_a):
        names = list(Position.objects.filter(code="qa").values_list("name", flat=True))
    assert names == ([] if connection.vendor == "sqlite" else ["Rival"])


@race_db
def test_a_raced_api_update_is_the_validation_400(client_a, tenant_a):
    """Renaming a code to one a rival just took is refused the same way, nothing changed."""
    with tenant_context(tenant_a):
        mine = Position.objects.create(code="mine", name="Mine")
    url = reverse("api:position-detail", args=[mine.pk])
    with rival_saved_first(Position, rival_position(tenant_a, "taken")):
        response = client_a.patch(url, {"code": "taken"}, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["fields"] == {"non_field_errors": [DUPLICATE]}
    with tenant_context(tenant_a):
        assert Position.objects.get(pk=mine.pk).code == "mine"


@race_db
def test_a_raced_unique_field_names_the_field(operator_client):
    """A field unique on its own (a package code) is refused on that field."""
    url = reverse("api:package-list")
    TenantPackage.objects.create(code="silver", name="Existing")
    plain = operator_client.post(url, {"code": "silver", "name": "Gold"},
                                 content_type="application/json")

    def rival():
        TenantPackage.objects.bulk_create([TenantPackage(code="gold", name="Rival")])

    with rival_saved_first(TenantPackage, rival):
        raced = operator_client.post(url, {"code": "gold", "name": "Gold"},
                                     content_type="application/json")
    assert raced.status_code == 400, raced.content
    assert raced.json() == plain.json()
    assert set(raced.json()["error"]["fields"]) == {"code"}


@race_db
def test_a_raced_admin_save_shows_the_field_error_and_keeps_the_input(client_a, tenant_a):
    """The admin validates the submission again, now seeing the rival: the form comes back
    with the error and what the operator typed."""
    if connection.vendor == "sqlite":
        pytest.skip(SERVER_ONLY)
    url = reverse("admin:accounts_position_add")
    data = {"code": "ops", "name": "Operations lead", "sort_order": 3, "status": "active",
            "description": "typed by hand"}
    with rival_saved_first(Position, rival_position(tenant_a, "ops")) as fired:
        response = client_a.post(url, data)
    assert fired
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    assert DUPLICATE in page
    assert "Operations lead" in page and "typed by hand" in page
    with tenant_context(tenant_a):
        assert list(Position.objects.filter(code="ops").values_list("name", flat=True)) == ["Rival"]


@pytest.mark.django_db
def test_a_raced_role_assignment_is_a_400(client_a, tenant_a, org_a, monkeypatch):
    """An association pair (user, role) taken by a rival between the read and the insert."""
    with tenant_context(tenant_a):
        role = Role.objects.create(code="viewer", name="Viewer")
    user = org_a["user"]

    def rival():
        UserRole.objects.bulk_create([UserRole(user=user, role=role)])

    url = reverse("api:user-detail", args=[user.pk])
    original = UserRole.objects.bulk_create
    calls = []

    def racing_bulk_create(objs, *args, **kwargs):
        # The rival's pair lands after the serializer read the user's roles, before its
        # INSERT. It is written on the request's own connection on every backend: there
        # the request has already deleted the pairs it drops, and on MariaDB that holds a
        # gap lock which a rival on another connection would wait for.
        if not calls:
            calls.append(1)
            rival()
        return original(objs, *args, **kwargs)

    monkeypatch.setattr(UserRole.objects, "bulk_create", racing_bulk_create)
    response = client_a.patch(url, {"roles": [str(role.pk)]}, content_type="application/json")
    assert calls
    assert response.status_code == 400, response.content
    (message,) = response.json()["error"]["fields"]["non_field_errors"]
    assert message == "Role of a user with this User and Role already exists."
    assert not UserRole.objects.filter(user=user, role=role).exists()  # rolled back with it


def refusal(make) -> IntegrityError:
    """Return the IntegrityError the database raises for ``make()``, rolled back."""
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        make()
    return caught.value


@pytest.mark.django_db
def test_each_backends_refusal_maps_to_the_rule_validation_uses(tenant_a, org_a):
    """Live-unique constraints, unique fields and pairs: the same error full_clean gives."""
    with tenant_context(tenant_a):
        error = unique_violation(refusal(lambda: Department.objects.bulk_create(
            [Department(tenant=tenant_a, code="hq", name="Again", lft=1, rght=2, tree_id=99,
                        level=0)])))
        duplicate = Department(tenant=tenant_a, code="hq", name="Again")
        with pytest.raises(ValidationError) as validated:
            duplicate.validate_constraints()
        assert error.message_dict == validated.value.message_dict

        first = Menu.objects.create(code="reports", name="Reports")
        error = unique_violation(refusal(
            lambda: Menu.objects.bulk_create([Menu(code="reports", name="Again", lft=1, rght=2,
                                                   tree_id=98, level=0)])), models=[Menu])
        with pytest.raises(ValidationError) as validated:
            Menu(code=first.code, name="x").validate_unique()
        assert error.message_dict == validated.value.message_dict

        role = Role.objects.create(code="r", name="R")
        UserRole.objects.create(user=org_a["user"], role=role)
        error = unique_violation(refusal(
            lambda: UserRole.objects.bulk_create([UserRole(user=org_a["user"], role=role)])))
        assert "already" in str(error.message_dict)


@pytest.mark.django_db
def test_other_integrity_errors_are_not_taken_for_duplicates(tenant_a):
    """A foreign key to a missing row is no unique violation (the API answers 409)."""
    import uuid

    def dangling():
        with tenant_context(tenant_a):
            Position.objects.bulk_create([Position(tenant=tenant_a, code="p", name="P",
                                                   created_by_id=uuid.uuid4())])
            # SQLite and PostgreSQL check foreign keys at commit: check them now.
            connection.check_constraints()

    assert unique_violation(refusal(dangling)) is None


def test_every_named_unique_constraint_is_told_apart():
    """MariaDB names only the index: every named unique constraint's name is unique."""
    names = Counter(rule.constraint.name for rule in rules() if rule.constraint is not None)
    assert [name for name, count in names.items() if count > 1] == []


@pytest.fixture
def concurrent_backend():
    if connection.vendor == "sqlite":
        pytest.skip("The SQLite test database is in memory, one connection shared by every "
                    "thread of the live server: the race is reproduced above on SQLite.")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_duplicates_never_answer_500(concurrent_backend, live_server, admin_a):
    """16 threads POST 10 codes 12 times each: one 201 per code, every other answer the 400."""
    _, key = issue_api_key(user=admin_a, name="load", scopes=["position:create"])
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    codes = [f"c{index}" for index in range(10)]

    def one(index: int) -> tuple[str, int, dict]:
        code = codes[index % len(codes)]
        with httpx2.Client(timeout=60) as http:
            response = http.post(f"{live_server.url}{POSITIONS}", headers=headers,
                                 content=json.dumps({"code": code, "name": code}))
        return code, response.status_code, response.json()

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(120)))

    statuses = Counter(status for _, status, _ in answers)
    assert set(statuses) <= {201, 400}, statuses
    assert statuses[201] == len(codes)
    for _, status, body in answers:
        if status == 400:
            assert body["error"]["fields"] == {"non_field_errors": [DUPLICATE]}
