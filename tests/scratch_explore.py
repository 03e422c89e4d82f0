import json
import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

def show(r):
    print(r.status_code, r.content[:600])

def test_explore(admin_a, org_a, org_b, operator):
    c = APIClient()
    show(c.get("/api/v1/users/"))
    c.force_login(admin_a)
    show(c.get("/api/v1/users/"))
    show(c.get(f"/api/v1/users/{org_b['user'].pk}/"))
    show(c.post("/api/v1/users/", {"username": "bob", "password": "Correct-horse-9", "department": str(org_b["child"].pk)}, format="json"))
    show(c.post("/api/v1/users/", {"username": "bob", "password": "Correct-horse-9", "email": "x"}, format="json"))
    show(c.post("/api/v1/departments/", {"code": "x", "name": "X", "parent": str(org_b["child"].pk)}, format="json"))
    show(c.get("/api/v1/tenants/"))
    show(c.get("/api/v1/menus/"))
    show(c.get("/api/v1/permissions/?page_size=2"))
    show(c.get("/api/v1/login-logs/"))
    show(c.get("/api/schema/"))
    r = c.get("/api/docs/"); import re; print("DOCS", re.findall(r"(?:src|href)=\S+", r.content.decode()))
    show(c.delete(f"/api/v1/users/{org_a['user'].pk}/"))
    show(c.post(f"/api/v1/users/{org_a['user'].pk}/restore/"))
    show(c.post(f"/api/v1/departments/{org_a['child'].pk}/restore/"))
