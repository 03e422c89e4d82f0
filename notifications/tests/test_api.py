"""The notifications API: sending within a tenant, and every user's inbox."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conftest import make_user
from notifications import services as notifications
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def send(client, **body):
    return client.post(reverse("api:notification-list"), body, content_type="application/json")


def test_administrator_sends_to_users_and_they_read_it(client, client_a, tenant_a, org_a):
    """A sender reaches the chosen users; the inbox shows it unread, then read."""
    alice = org_a["user"]
    response = send(client_a, title="Hello", content="Welcome", audience="users",
                    users=[str(alice.pk)])
    assert response.status_code == 201, response.json()
    notification_id = response.json()["id"]

    client.force_login(alice)
    inbox = client.get(reverse("api:inbox-list")).json()
    assert [(row["id"], row["is_read"]) for row in inbox["results"]] == [(notification_id, False)]
    assert client.get(reverse("api:inbox-unread-count")).json() == {"unread": 1}
    read = client.post(reverse("api:inbox-read", args=[notification_id]))
    assert read.status_code == 200 and read.json()["is_read"] is True
    assert client.post(reverse("api:inbox-read-all")).json() == {"marked": 0}


def test_targets_of_another_tenant_are_field_errors(client_a, org_b):
    """A user of tenant B cannot be a target of tenant A's notification."""
    response = send(client_a, title="Hello", content="x", audience="users",
                    users=[str(org_b["user"].pk)])
    assert response.status_code == 400
    assert "users" in response.json()["error"]["fields"]
    assert not Notification.objects.all_tenants().exists()


def test_audience_mismatch_is_a_field_error(client_a, org_a):
    """A department audience needs departments, not users."""
    response = send(client_a, title="Hello", content="x", audience="departments",
                    users=[str(org_a["user"].pk)])
    assert response.status_code == 400
    assert response.json()["error"]["fields"]


def test_inbox_never_shows_another_tenants_notifications(client, tenant_a, tenant_b, org_a, org_b):
    """A tenant-wide notification of A reaches A's users only; B's id is 404 in A's inbox."""
    sent = notifications.send_notification(tenant=tenant_b, title="B only", content="x",
                                           audience="tenant")
    client.force_login(org_a["user"])
    assert client.get(reverse("api:inbox-list")).json()["results"] == []
    assert client.post(reverse("api:inbox-read", args=[sent.pk])).status_code == 404


def test_plain_member_cannot_send(client, tenant_a):
    """Sending needs notification:create; reading one's inbox needs nothing more than a session."""
    member = make_user(tenant_a, "member")
    client.force_login(member)
    assert send(client, title="x", content="x", audience="tenant").status_code == 403
    assert client.get(reverse("api:inbox-list")).status_code == 200


def test_inbox_requires_authentication(client):
    """Anonymous callers get the JSON 401."""
    response = client.get(reverse("api:inbox-list"))
    assert response.status_code == 401
    assert "error" in response.json()
