"""Notifications: audiences, tenant isolation, read receipts, the pages and the header badge.

Two tenants hold the same department codes and usernames (``org_a`` and ``org_b``: "hq"
with "eng" below it, and a user "alice" in "eng"), so a leak across tenants would show.
"""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import make_user
from core.context import tenant_context
from notifications.context_processors import unread_notifications
from notifications.models import (
    Notification,
    NotificationAudience,
    NotificationRead,
    NotificationStatus,
    NotificationUser,
)
from notifications.services import (
    mark_all_read,
    mark_read,
    notifications_for,
    send_notification,
    unread_count,
)
from rbac.models import Role, UserRole

pytestmark = pytest.mark.django_db

# The list page's query count must not depend on how many notifications there are. The
# bound is the count measured with 3 notifications (session, user, the header badge, the
# paginator's count, the page's rows with their senders) plus a slack of 1; the same bound
# must then hold for 30.
MAX_QUERIES_LIST_PAGE = 6  # measured: 5


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def notify(tenant, title: str = "Hello", **fields) -> Notification:
    """Send a notification of ``tenant`` (to the whole tenant unless told otherwise)."""
    fields.setdefault("audience", NotificationAudience.TENANT)
    fields.setdefault("content", "Body of " + title)
    return send_notification(tenant=tenant, title=title, **fields)


def titles_for(user) -> list[str]:
    """Return the titles of the notifications ``user`` receives, newest first."""
    with tenant_context(user.tenant_id):
        return list(notifications_for(user).values_list("title", flat=True))


def unread_for(user) -> int:
    with tenant_context(user.tenant_id):
        return unread_count(user)


@pytest.fixture
def bob_a(org_a):
    """A user of tenant A in the root department ("hq"), above alice's "eng"."""
    return make_user(org_a["root"].tenant, "bob", department=org_a["root"])


@pytest.fixture
def carol_a(org_a):
    """A user of tenant A in no department."""
    return make_user(org_a["root"].tenant, "carol")


# ---------------------------------------------------------------------------
# Audiences
# ---------------------------------------------------------------------------


def test_tenant_wide_notification_reaches_every_user_of_the_tenant_only(
    org_a, org_b, bob_a, carol_a
):
    """A notification to the whole tenant reaches all its users and nobody elsewhere."""
    notify(org_a["user"].tenant, "For Alpha")
    notify(org_b["user"].tenant, "For Beta")

    for user in (org_a["user"], bob_a, carol_a):
        assert titles_for(user) == ["For Alpha"]
    assert titles_for(org_b["user"]) == ["For Beta"]


def test_user_notification_reaches_only_the_users_named(org_a, bob_a, carol_a):
    """A notification to chosen users reaches them and no one else."""
    notify(
        org_a["user"].tenant,
        "Direct",
        audience=NotificationAudience.USERS,
        users=[org_a["user"], carol_a],
    )

    assert titles_for(org_a["user"]) == ["Direct"]
    assert titles_for(carol_a) == ["Direct"]
    assert titles_for(bob_a) == []


def test_department_notification_reaches_the_whole_subtree(org_a, bob_a, carol_a):
    """A department target reaches its users and those of its sub-departments, not above."""
    tenant = org_a["user"].tenant
    notify(tenant, "To HQ", audience=NotificationAudience.DEPARTMENTS, departments=[org_a["root"]])
    notify(
        tenant, "To Eng", audience=NotificationAudience.DEPARTMENTS, departments=[org_a["child"]]
    )

    assert sorted(titles_for(org_a["user"])) == ["To Eng", "To HQ"]  # alice, in "eng"
    assert titles_for(bob_a) == ["To HQ"]  # in "hq", above "eng"
    assert titles_for(carol_a) == []  # in no department


def test_role_notification_reaches_holders_of_live_active_roles(org_a, bob_a, carol_a):
    """A role target reaches the users holding the role while it is live and active."""
    tenant = org_a["user"].tenant
    with tenant_context(tenant):
        ops = Role.objects.create(code="ops", name="Operations")
        UserRole.objects.create(user=org_a["user"], role=ops)
        UserRole.objects.create(user=bob_a, role=ops)
    notify(tenant, "To ops", audience=NotificationAudience.ROLES, roles=[ops])

    assert titles_for(org_a["user"]) == ["To ops"]
    assert titles_for(bob_a) == ["To ops"]
    assert titles_for(carol_a) == []

    with tenant_context(tenant):
        ops.status = "inactive"
        ops.save()
    assert titles_for(org_a["user"]) == []

    with tenant_context(tenant):
        ops.status = "active"
        ops.save()
        ops.delete()
    assert titles_for(bob_a) == []


# ---------------------------------------------------------------------------
# Tenant isolation
# ---------------------------------------------------------------------------


def test_same_department_code_in_another_tenant_receives_nothing(org_a, org_b):
    """Tenant B's users never receive tenant A's notifications, whatever the codes."""
    tenant_a = org_a["user"].tenant
    notify(tenant_a, "Alpha all")
    notify(tenant_a, "Alpha HQ", audience=NotificationAudience.DEPARTMENTS, departments=[org_a["root"]])
    notify(tenant_a, "Alpha alice", audience=NotificationAudience.USERS, users=[org_a["user"]])

    assert len(titles_for(org_a["user"])) == 3
    assert titles_for(org_b["user"]) == []
    assert unread_for(org_b["user"]) == 0


def test_operator_receives_only_the_platform_tenants_notifications(org_a, operator):
    """An operator's requests see every tenant, but their notifications are the platform's."""
    notify(org_a["user"].tenant, "Alpha all")
    notify(operator.tenant, "Platform all")

    assert titles_for(operator) == ["Platform all"]


def test_send_refuses_targets_of_another_tenant(org_a, org_b):
    """Targets of another tenant are field errors, and nothing is created."""
    tenant_a = org_a["user"].tenant
    with pytest.raises(ValidationError) as users_error:
        notify(tenant_a, audience=NotificationAudience.USERS, users=[org_a["user"], org_b["user"]])
    assert list(users_error.value.message_dict) == ["users"]

    with pytest.raises(ValidationError) as departments_error:
        notify(
            tenant_a, audience=NotificationAudience.DEPARTMENTS, departments=[org_b["root"].pk]
        )
    assert list(departments_error.value.message_dict) == ["departments"]

    with tenant_context(org_b["user"].tenant):
        role_b = Role.objects.create(code="ops", name="Beta ops")
    with pytest.raises(ValidationError) as roles_error:
        notify(tenant_a, audience=NotificationAudience.ROLES, roles=[role_b])
    assert list(roles_error.value.message_dict) == ["roles"]

    with pytest.raises(ValidationError) as sender_error:
        notify(tenant_a, sender=org_b["user"])
    assert list(sender_error.value.message_dict) == ["sender"]

    assert not Notification.objects.all_tenants().exists()
    assert not NotificationUser.objects.exists()


def test_send_requires_targets_matching_the_audience(org_a):
    """Each audience takes its own kind of targets and only those."""
    tenant = org_a["user"].tenant
    cases = [
        ({"audience": NotificationAudience.USERS}, "users"),
        ({"audience": NotificationAudience.TENANT, "users": [org_a["user"]]}, "users"),
        (
            {"audience": NotificationAudience.USERS, "users": [org_a["user"]],
             "departments": [org_a["root"]]},
            "departments",
        ),
        ({"audience": NotificationAudience.ROLES}, "roles"),
        ({"audience": "everybody"}, "audience"),
        ({"users": ["not-a-uuid"], "audience": NotificationAudience.USERS}, "users"),
    ]
    for fields, field in cases:
        with pytest.raises(ValidationError) as error:
            notify(tenant, **fields)
        assert field in error.value.message_dict, fields
    with pytest.raises(ValidationError) as error:
        notify(tenant, title="", expires_at=timezone.now() - datetime.timedelta(days=1))
    assert "title" in error.value.message_dict
    assert not Notification.objects.all_tenants().exists()


# ---------------------------------------------------------------------------
# Visibility in time and status
# ---------------------------------------------------------------------------


def test_archived_expired_unpublished_and_deleted_notifications_are_not_received(org_a):
    """Only active, published, unexpired, live notifications reach their recipients."""
    tenant = org_a["user"].tenant
    now = timezone.now()
    notify(tenant, "Current", expires_at=now + datetime.timedelta(days=1))
    archived = notify(tenant, "Archived")
    notify(
        tenant,
        "Expired",
        published_at=now - datetime.timedelta(days=2),
        expires_at=now - datetime.timedelta(days=1),
    )
    notify(tenant, "Scheduled", published_at=now + datetime.timedelta(hours=1))
    deleted = notify(tenant, "Deleted")
    with tenant_context(tenant):
        archived.status = NotificationStatus.ARCHIVED
        archived.save()
        deleted.delete()

    assert titles_for(org_a["user"]) == ["Current"]
    assert unread_for(org_a["user"]) == 1


# ---------------------------------------------------------------------------
# Read receipts
# ---------------------------------------------------------------------------


def test_mark_read_records_one_receipt_and_keeps_the_first_time(org_a, bob_a):
    """Marking read twice keeps one receipt with the first reading time; others unaffected."""
    tenant = org_a["user"].tenant
    alice = org_a["user"]
    first = notify(tenant, "First")
    notify(tenant, "Second")

    with tenant_context(tenant):
        mark_read(alice, first)
        read_at = NotificationRead.objects.get(notification=first, user=alice).read_at
        mark_read(alice, first)
        assert NotificationRead.objects.filter(notification=first, user=alice).count() == 1
        assert NotificationRead.objects.get(notification=first, user=alice).read_at == read_at
        states = dict(notifications_for(alice).values_list("title", "is_read"))

    assert states == {"First": True, "Second": False}
    assert unread_for(alice) == 1
    assert unread_for(bob_a) == 2


def test_mark_read_refuses_a_notification_not_addressed_to_the_user(org_a, org_b, bob_a):
    """A receipt is only for a recipient: not another user's, not another tenant's."""
    to_bob = notify(org_a["user"].tenant, audience=NotificationAudience.USERS, users=[bob_a])
    beta = notify(org_b["user"].tenant, "Beta")

    with tenant_context(org_a["user"].tenant):
        with pytest.raises(ValidationError):
            mark_read(org_a["user"], to_bob)
        with pytest.raises(ValidationError):
            mark_read(org_a["user"], beta)
    assert not NotificationRead.objects.exists()


def test_mark_all_read_is_idempotent(org_a, bob_a):
    """Marking all read records the missing receipts only, and repeats harmlessly."""
    tenant = org_a["user"].tenant
    alice = org_a["user"]
    notifications = [notify(tenant, f"N{i}") for i in range(3)]
    with tenant_context(tenant):
        mark_read(alice, notifications[0])
        assert mark_all_read(alice) == 2
        assert mark_all_read(alice) == 0
        assert NotificationRead.objects.filter(user=alice).count() == 3
        assert all(notifications_for(alice).values_list("is_read", flat=True))
    assert unread_for(alice) == 0
    assert unread_for(bob_a) == 3


def test_selectors_and_mark_all_read_take_constant_queries(
    org_a, django_assert_num_queries
):
    """Listing, counting and marking all read do not grow with the number of notifications."""
    tenant = org_a["user"].tenant
    alice = org_a["user"]
    for i in range(25):
        notify(tenant, f"N{i}")
    notify(tenant, "Dept", audience=NotificationAudience.DEPARTMENTS, departments=[org_a["root"]])
    notify(tenant, "Direct", audience=NotificationAudience.USERS, users=[alice])

    with tenant_context(tenant):
        with django_assert_num_queries(1):
            assert len(list(notifications_for(alice))) == 27
        with django_assert_num_queries(1):
            assert unread_count(alice) == 27
        with django_assert_num_queries(2):  # find the unread, insert their receipts
            assert mark_all_read(alice) == 27


# ---------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------


def test_home_page_header_shows_the_unread_badge(client, org_a):
    """The header links to the notifications with the unread count as a badge."""
    tenant = org_a["user"].tenant
    first = notify(tenant, "One")
    notify(tenant, "Two")
    client.force_login(org_a["user"])

    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert response.context["unread_notifications"] == 2
    html = response.content.decode()
    assert f'href="{reverse("notifications:list")}"' in html
    assert '<span class="badge"' in html and ">2</span>" in html

    with tenant_context(tenant):
        mark_read(org_a["user"], first)
        mark_all_read(org_a["user"])
    html = client.get(reverse("home")).content.decode()
    assert '<span class="badge"' not in html


def test_unread_badge_context_is_for_signed_in_users_only(rf, org_a, django_assert_num_queries):
    """Anonymous requests get no count; a signed-in user's count costs one query when shown."""
    notify(org_a["user"].tenant, "One")
    request = rf.get("/")
    request.user = AnonymousUser()
    assert unread_notifications(request) == {}

    request.user = org_a["user"]
    with tenant_context(org_a["user"].tenant):
        with django_assert_num_queries(0):
            context = unread_notifications(request)
        with django_assert_num_queries(1):
            assert context["unread_notifications"] == 1
            assert str(context["unread_notifications"]) == "1"


def test_list_page_shows_read_and_unread(client, org_a, org_b):
    """The list shows the user's notifications with their read state, and no one else's."""
    tenant = org_a["user"].tenant
    read = notify(tenant, "Already read")
    notify(tenant, "Still unread")
    notify(org_b["user"].tenant, "Beta secret")
    with tenant_context(tenant):
        mark_read(org_a["user"], read)
    client.force_login(org_a["user"])

    response = client.get(reverse("notifications:list"))
    assert response.status_code == 200
    rows = {n.title: n.is_read for n in response.context["page_obj"].object_list}
    assert rows == {"Already read": True, "Still unread": False}
    html = response.content.decode()
    assert "Beta secret" not in html
    assert reverse("notifications:read", args=[read.pk]) not in html
    assert reverse("notifications:read-all") in html


def test_list_page_requires_sign_in(client):
    """Anonymous visitors are sent to the login page."""
    response = client.get(reverse("notifications:list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_list_page_paginates(client, org_a):
    """Notifications come twenty to a page, newest first."""
    tenant = org_a["user"].tenant
    now = timezone.now()
    for i in range(25):
        notify(tenant, f"N{i:02d}", published_at=now - datetime.timedelta(minutes=i))
    client.force_login(org_a["user"])

    first = client.get(reverse("notifications:list"))
    second = client.get(reverse("notifications:list"), {"page": 2})
    assert [n.title for n in first.context["page_obj"].object_list][:2] == ["N00", "N01"]
    assert len(first.context["page_obj"].object_list) == 20
    assert len(second.context["page_obj"].object_list) == 5


@pytest.mark.parametrize("count", [3, 30])
def test_list_page_query_count_is_constant(client, org_a, count, django_assert_max_num_queries):
    """The list page costs the same number of queries for 3 or 30 notifications."""
    tenant = org_a["user"].tenant
    for i in range(count):
        notify(tenant, f"N{i}", sender=org_a["user"] if i % 2 else None)
    client.force_login(org_a["user"])
    # The first request computes and caches the user's access (rbac.access): warm it, so
    # that the bound measures this page.
    client.get(reverse("notifications:list"))

    with django_assert_max_num_queries(MAX_QUERIES_LIST_PAGE):
        response = client.get(reverse("notifications:list"))
    assert response.status_code == 200


def test_post_read_marks_one_and_redirects_back(client, org_a):
    """POSTing a read mark records the receipt and returns to the page given in ``next``."""
    tenant = org_a["user"].tenant
    notification = notify(tenant, "One")
    notify(tenant, "Two")
    client.force_login(org_a["user"])
    url = reverse("notifications:read", args=[notification.pk])

    response = client.post(url, {"next": reverse("home")})
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert NotificationRead.objects.filter(notification=notification, user=org_a["user"]).exists()
    assert unread_for(org_a["user"]) == 1

    again = client.post(url, {"next": "https://evil.example/"})
    assert again.status_code == 302
    assert again.url == reverse("notifications:list")
    assert client.get(url).status_code == 405


def test_post_read_of_another_tenants_notification_is_404(client, org_a, org_b):
    """Another tenant's notification id answers 404 and records nothing."""
    beta = notify(org_b["user"].tenant, "Beta")
    client.force_login(org_a["user"])

    response = client.post(reverse("notifications:read", args=[beta.pk]))
    assert response.status_code == 404
    assert not NotificationRead.objects.exists()


def test_post_read_of_a_notification_addressed_to_others_is_404(client, org_a, bob_a):
    """A notification of the same tenant addressed to someone else is not reachable."""
    to_bob = notify(org_a["user"].tenant, audience=NotificationAudience.USERS, users=[bob_a])
    client.force_login(org_a["user"])

    response = client.post(reverse("notifications:read", args=[to_bob.pk]))
    assert response.status_code == 404


def test_post_read_all_marks_every_notification(client, org_a):
    """Mark all read records every missing receipt and can be repeated."""
    tenant = org_a["user"].tenant
    for i in range(3):
        notify(tenant, f"N{i}")
    client.force_login(org_a["user"])
    url = reverse("notifications:read-all")

    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 302
    assert NotificationRead.objects.filter(user=org_a["user"]).count() == 3
    assert unread_for(org_a["user"]) == 0


def test_read_posts_need_the_csrf_token(org_a):
    """The read marks are CSRF protected."""
    notification = notify(org_a["user"].tenant, "One")
    client = Client(enforce_csrf_checks=True)
    client.force_login(org_a["user"])

    assert client.post(reverse("notifications:read-all")).status_code == 403
    read_url = reverse("notifications:read", args=[notification.pk])
    assert client.post(read_url).status_code == 403
    assert not NotificationRead.objects.exists()


# ---------------------------------------------------------------------------
# Admin
# ---------------------------------------------------------------------------


def admin_add_data(**overrides) -> dict:
    """Return a POST of the notification add form with empty target inlines."""
    data = {
        "title": "Maintenance",
        "content": "Tonight.",
        "type": "announcement",
        "level": "info",
        "audience": "tenant",
        "status": "active",
        "published_at_0": "2020-01-01",
        "published_at_1": "00:00:00",
        "expires_at_0": "",
        "expires_at_1": "",
    }
    for prefix in ("user_targets", "department_targets", "role_targets"):
        data.update({
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        })
    data.update(overrides)
    return data


def test_tenant_admin_adds_a_notification_to_users(client_a, admin_a, org_a):
    """A tenant administrator addresses users in the inline; they sign it."""
    data = admin_add_data(
        audience="users",
        **{"user_targets-TOTAL_FORMS": "1", "user_targets-0-user": str(org_a["user"].pk)},
    )
    response = client_a.post(reverse("admin:notifications_notification_add"), data)
    assert response.status_code == 302, response.context and response.context.get("errors")

    notification = Notification.objects.all_tenants().get()
    assert notification.tenant_id == admin_a.tenant_id
    assert notification.sender_id == admin_a.pk
    assert titles_for(org_a["user"]) == ["Maintenance"]
    assert titles_for(admin_a) == []


def test_admin_refuses_targets_off_the_audience(client_a, org_a):
    """Targets of another kind than the audience are refused in the inline."""
    data = admin_add_data(
        audience="tenant",
        **{"user_targets-TOTAL_FORMS": "1", "user_targets-0-user": str(org_a["user"].pk)},
    )
    response = client_a.post(reverse("admin:notifications_notification_add"), data)
    assert response.status_code == 200
    assert not Notification.objects.all_tenants().exists()

    response = client_a.post(
        reverse("admin:notifications_notification_add"), admin_add_data(audience="departments")
    )
    assert response.status_code == 200
    assert not Notification.objects.all_tenants().exists()


def test_operator_cannot_address_another_tenants_user(operator_client, org_a, org_b):
    """An operator's choices span tenants; a target of another tenant is refused."""
    data = admin_add_data(
        tenant=str(org_a["user"].tenant_id),
        audience="users",
        **{"user_targets-TOTAL_FORMS": "1", "user_targets-0-user": str(org_b["user"].pk)},
    )
    response = operator_client.post(reverse("admin:notifications_notification_add"), data)
    assert response.status_code == 200
    assert not Notification.objects.all_tenants().exists()

    data["user_targets-0-user"] = str(org_a["user"].pk)
    response = operator_client.post(reverse("admin:notifications_notification_add"), data)
    assert response.status_code == 302
    notification = Notification.objects.all_tenants().get()
    assert notification.tenant_id == org_a["user"].tenant_id
    assert notification.sender_id is None


def test_admin_change_list_shows_read_receipts_of_own_tenant_only(client_a, org_a, org_b):
    """The change list counts read receipts and lists the tenant's notifications only."""
    tenant = org_a["user"].tenant
    notification = notify(tenant, "Alpha news")
    notify(org_b["user"].tenant, "Beta news")
    with tenant_context(tenant):
        mark_read(org_a["user"], notification)

    response = client_a.get(reverse("admin:notifications_notification_changelist"))
    assert response.status_code == 200
    with tenant_context(tenant):
        rows = list(response.context["cl"].result_list)
    assert [(row.title, row.receipt_count) for row in rows] == [("Alpha news", 1)]
    assert "Beta news" not in response.content.decode()


def test_admin_pages_open_for_a_tenant_administrator(client_a, org_a):
    """The add and change pages open, with the target inlines."""
    notification = notify(
        org_a["user"].tenant, "Direct", audience=NotificationAudience.USERS, users=[org_a["user"]]
    )
    add = client_a.get(reverse("admin:notifications_notification_add"))
    assert add.status_code == 200
    change = client_a.get(reverse("admin:notifications_notification_change", args=[notification.pk]))
    assert change.status_code == 200
    html = change.content.decode()
    assert "user_targets-TOTAL_FORMS" in html and "role_targets-TOTAL_FORMS" in html

