import pytest
from rest_framework.test import APIClient
from tenants.context import tenant_context
from accounts.models import Position

pytestmark = pytest.mark.django_db

def show(r):
    print(r.status_code, r.content[:700])

def test_explore(admin_a, org_a, org_b, operator):
    c = APIClient()
    c.force_login(admin_a)
    show(c.post("/api/v1/roles/", {"code": "aud", "name": "Aud", "data_scope": "dept", "permissions": ["user:view"]}, format="json"))
    show(c.post("/api/v1/positions/", {"code": "dev", "name": "Dup"}, format="json"))
    show(c.post("/api/v1/positions/", "[1]", content_type="application/json"))
    show(c.post("/api/v1/positions/", "{bad", content_type="application/json"))
    show(c.get("/api/v1/positions/not-a-uuid/"))
    show(c.post("/api/v1/packages/", {"code": "x", "name": "X"}, format="json"))
    c.force_login(operator)
    show(c.post("/api/v1/packages/", {"code": "x", "name": "X", "permissions": ["tenant:view"]}, format="json"))
    show(c.post("/api/v1/tenants/", {"code": "gamma", "name": "G"}, format="json"))
    show(c.post("/api/v1/users/", {"username": "zed", "password": "Correct-horse-9", "tenant": str(org_a["user"].tenant_id), "department": str(org_b["child"].pk)}, format="json"))
    show(c.delete(f"/api/v1/tenants/{org_a['user'].tenant_id}/"))
