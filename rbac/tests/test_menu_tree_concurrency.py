"""Concurrent menu edits keep the menu trees whole and never answer 500.

django-mptt rewrites lft/rght from values it has just read; without the menu tree lock two
operators' edits at once corrupted a tree or deadlocked on MariaDB (found by the API
fuzzing stage as a 500 on PATCH /api/v1/menus/{id}/).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest
from django.db import connection

from accounts.services.api_keys import issue_api_key
from rbac.models import Menu

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def assert_trees_whole() -> None:
    """Assert that every tree's lft/rght numbers form one proper nested set."""
    trees = defaultdict(list)
    for tree_id, lft, rght, level, parent_id, pk in Menu.objects.values_list(
            "tree_id", "lft", "rght", "level", "parent_id", "pk"):
        trees[tree_id].append((lft, rght, level, parent_id, pk))
    for tree_id, nodes in trees.items():
        numbers = sorted(n for lft, rght, *_ in nodes for n in (lft, rght))
        assert numbers == list(range(1, 2 * len(nodes) + 1)), (tree_id, nodes)
        by_pk = {pk: (lft, rght, level) for lft, rght, level, _parent, pk in nodes}
        for lft, rght, level, parent_id, _pk in nodes:
            assert lft < rght
            if parent_id is not None:
                p_lft, p_rght, p_level = by_pk[parent_id]
                assert p_lft < lft and rght < p_rght and level == p_level + 1


def test_concurrent_menu_writes_keep_the_trees_whole(live_server, operator):
    if connection.vendor == "sqlite":
        pytest.skip("The SQLite test database is in memory, one connection shared by every "
                    "thread of the live server: concurrency is proven on MariaDB and PostgreSQL.")
    _, key = issue_api_key(user=operator, name="menus",
                           scopes=["menu:create", "menu:update", "menu:view"])
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    root = Menu.objects.create(code="root", name="Root")
    children = [Menu.objects.create(code=f"c{i}", name=f"C{i}", parent=root, sort_order=i)
                for i in range(4)]

    def one(index: int) -> int:
        with httpx2.Client(timeout=60) as http:
            if index % 3 == 0:
                response = http.post(f"{live_server.url}/api/v1/menus/", headers=headers,
                                     content=json.dumps({"code": f"n{index}", "name": f"N{index}",
                                                         "parent": str(root.pk),
                                                         "sort_order": index % 5}))
            else:
                child = children[index % len(children)]
                response = http.patch(f"{live_server.url}/api/v1/menus/{child.pk}/",
                                      headers=headers,
                                      content=json.dumps({"sort_order": (index * 7) % 11}))
        return response.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = Counter(pool.map(one, range(48)))
    assert set(statuses) <= {200, 201}, statuses
    assert_trees_whole()
