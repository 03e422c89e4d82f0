"""Notifications: sending them, what a user receives, and read receipts (issue 3, item 5).

A user receives a tenant's notification while it is live, active, published and unexpired,
when it is addressed to

- the whole tenant;
- the user directly;
- the user's department or any department above it: a department target reaches its whole
  subtree (the tree is django-mptt's, so "above" is one range comparison, no recursion);
- a role the user holds, while the role is live and active (``rbac.UserRole``).

Every selector filters by the user's own tenant on top of the scoped manager, so a platform
operator (whose requests see every tenant) receives only the platform tenant's notifications,
and code outside any tenant scope fails closed. Each selector is one SQL query whatever the
number of notifications, targets or receipts; ``mark_all_read`` is one read and one bulk
insert that skips receipts already there, so repeating it (or racing it) is harmless.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.choices import RecordStatus
from accounts.models import Department, User
from core.context import get_scope, tenant_context
from notifications.models import (
    Notification,
    NotificationAudience,
    NotificationDepartment,
    NotificationLevel,
    NotificationRead,
    NotificationRole,
    NotificationStatus,
    NotificationType,
    NotificationUser,
)
from rbac.models import Role, UserRole
from tenants.models import Tenant

# The argument of send_notification that lists the targets of each audience.
TARGET_ARGUMENTS = {
    NotificationAudience.USERS: "users",
    NotificationAudience.DEPARTMENTS: "departments",
    NotificationAudience.ROLES: "roles",
}
TARGET_MODELS = {"users": User, "departments": Department, "roles": Role}
MISSING_TARGETS = {
    "users": _("Choose at least one user."),
    "departments": _("Choose at least one department."),
    "roles": _("Choose at least one role."),
}
UNEXPECTED_TARGETS = {
    "users": _("Only a notification to chosen users lists users."),
    "departments": _("Only a notification to chosen departments lists departments."),
    "roles": _("Only a notification to chosen roles lists roles."),
}
FOREIGN_TARGETS = {
    "users": _("Choose live users of this tenant."),
    "departments": _("Choose live departments of this tenant."),
    "roles": _("Choose live roles of this tenant."),
}


# ---------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------


def _target_ids(items: Iterable[Any]) -> set[uuid.UUID]:
    """Return the primary keys of ``items`` (instances or ids); raise ``ValueError`` if malformed."""
    ids = set()
    for item in items:
        value = getattr(item, "pk", item)
        ids.add(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    return ids


def _clean_targets(
    audience: str, targets: dict[str, Iterable[Any]]
) -> tuple[dict[str, set[uuid.UUID]], dict[str, list]]:
    """Return the targets' primary keys by argument, and the field errors of targets that
    are malformed, off the audience, or not live records of the tenant in context."""
    ids_by_argument: dict[str, set[uuid.UUID]] = {}
    errors: dict[str, list] = {}
    wanted = TARGET_ARGUMENTS.get(audience)
    for argument, items in targets.items():
        try:
            ids = ids_by_argument[argument] = _target_ids(items)
        except (ValueError, TypeError, AttributeError):
            errors[argument] = [_("Give records or their ids.")]
            continue
        if audience in NotificationAudience.values:
            if argument == wanted and not ids:
                errors[argument] = [MISSING_TARGETS[argument]]
                continue
            if argument != wanted and ids:
                errors[argument] = [UNEXPECTED_TARGETS[argument]]
                continue
        if ids:
            found = TARGET_MODELS[argument].objects.filter(pk__in=ids).values_list("pk", flat=True)
            if set(found) != ids:
                errors[argument] = [FOREIGN_TARGETS[argument]]
    return ids_by_argument, errors


@transaction.atomic
def send_notification(
    *,
    tenant: Tenant,
    title: str,
    content: str,
    audience: str = NotificationAudience.TENANT,
    users: Iterable[Any] = (),
    departments: Iterable[Any] = (),
    roles: Iterable[Any] = (),
    sender: User | None = None,
    type: str = NotificationType.ANNOUNCEMENT,
    level: str = NotificationLevel.INFO,
    status: str = NotificationStatus.ACTIVE,
    published_at: datetime.datetime | None = None,
    expires_at: datetime.datetime | None = None,
) -> Notification:
    """Create a notification of ``tenant`` and its targets, or raise ``ValidationError``.

    The targets (instances or primary keys) must be live records of ``tenant`` and match
    the audience: the tenant audience (the default) takes none, every other audience at
    least one of its own kind and none of the others. An archived notification is stored
    but reaches nobody until it is made active. Errors are keyed by field (the targets by argument
    name), so that a form or an API answers them as field errors (400).
    """
    scope = get_scope()
    if scope is not None and scope.tenant_id not in (None, tenant.pk):
        raise ValidationError(
            {"tenant": _("This notification belongs to another tenant than the one in context.")}
        )
    notification = Notification(
        tenant=tenant,
        type=type,
        level=level,
        title=title,
        content=content,
        audience=audience,
        status=status,
        sender=sender,
        expires_at=expires_at,
    )
    if published_at is not None:
        notification.published_at = published_at
    targets = {"users": users, "departments": departments, "roles": roles}
    # Validation and writes run in the notification's tenant, whatever called (a request of
    # that tenant, an operator's request, a task or a command).
    with tenant_context(tenant):
        return _save_notification(notification, targets)


def _save_notification(
    notification: Notification, targets: dict[str, Iterable[Any]]
) -> Notification:
    """Validate and save ``notification`` and its targets (see ``send_notification``)."""
    ids, errors = _clean_targets(notification.audience, targets)
    try:
        notification.full_clean()
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
    notification.save()

    NotificationUser.objects.bulk_create(
        NotificationUser(notification=notification, user_id=pk) for pk in ids["users"]
    )
    NotificationDepartment.objects.bulk_create(
        NotificationDepartment(notification=notification, department_id=pk)
        for pk in ids["departments"]
    )
    NotificationRole.objects.bulk_create(
        NotificationRole(notification=notification, role_id=pk) for pk in ids["roles"]
    )
    return notification


# ---------------------------------------------------------------------------
# What a user receives
# ---------------------------------------------------------------------------


def _reaches(user: User) -> Q:
    """Return the condition on ``Notification`` rows that are addressed to ``user``."""
    reach = Q(audience=NotificationAudience.TENANT)
    reach |= Q(audience=NotificationAudience.USERS) & Exists(
        NotificationUser.objects.filter(notification=OuterRef("pk"), user_id=user.pk)
    )
    if user.department_id is not None:
        # A targeted department D reaches the user when the user's department lies in D's
        # subtree: same tree, and D's (lft, rght) interval encloses it.
        in_subtree = Department.objects.all_tenants().filter(
            pk=user.department_id,
            tree_id=OuterRef("department__tree_id"),
            lft__gte=OuterRef("department__lft"),
            rght__lte=OuterRef("department__rght"),
        )
        reach |= Q(audience=NotificationAudience.DEPARTMENTS) & Exists(
            NotificationDepartment.objects.filter(notification=OuterRef("pk")).filter(
                Exists(in_subtree)
            )
        )
    reach |= Q(audience=NotificationAudience.ROLES) & Exists(
        NotificationRole.objects.filter(
            notification=OuterRef("pk"),
            role__is_deleted=False,
            role__status=RecordStatus.ACTIVE,
            role_id__in=UserRole.objects.filter(user_id=user.pk).values("role_id"),
        )
    )
    return reach


def _read_by(user: User) -> Exists:
    """Return the condition that ``user`` has a receipt for the outer notification."""
    return Exists(NotificationRead.objects.filter(notification=OuterRef("pk"), user_id=user.pk))


def received_by(user: User, *, now: datetime.datetime | None = None) -> models.QuerySet:
    """Return the live, active, published, unexpired notifications addressed to ``user``."""
    now = now or timezone.now()
    return (
        Notification.objects.for_tenant(user.tenant_id)
        .filter(status=NotificationStatus.ACTIVE, published_at__lte=now)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .filter(_reaches(user))
    )


def notifications_for(user: User, *, now: datetime.datetime | None = None) -> models.QuerySet:
    """Return the notifications ``user`` receives, newest first, annotated with ``is_read``."""
    return (
        received_by(user, now=now)
        .annotate(is_read=_read_by(user))
        .order_by("-published_at", "-id")
    )


def unread_count(user: User) -> int:
    """Return how many of the notifications ``user`` receives they have not read (one query)."""
    return received_by(user).filter(~_read_by(user)).count()


# ---------------------------------------------------------------------------
# Read receipts
# ---------------------------------------------------------------------------


def mark_read(user: User, notification: Notification) -> None:
    """Record that ``user`` read ``notification``; a repeat keeps the first reading time."""
    if not received_by(user).filter(pk=notification.pk).exists():
        raise ValidationError(
            {"notification": ValidationError(
                _("This notification is not addressed to you."), code="not_received"
            )}
        )
    NotificationRead.objects.bulk_create(
        [NotificationRead(notification=notification, user_id=user.pk)], ignore_conflicts=True
    )


def mark_all_read(user: User) -> int:
    """Record that ``user`` read every notification they receive; return how many were new.

    One query finds the unread ones and one bulk insert records them. Conflicts are ignored,
    so a concurrent ``mark_read`` of the same notification does not fail the insert.
    """
    now = timezone.now()
    unread = list(received_by(user, now=now).filter(~_read_by(user)).values_list("pk", flat=True))
    NotificationRead.objects.bulk_create(
        [NotificationRead(notification_id=pk, user_id=user.pk, read_at=now) for pk in unread],
        ignore_conflicts=True,
    )
    return len(unread)
