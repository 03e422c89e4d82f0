"""Models of the accounts app, one module per subdomain."""

from accounts.models.api_keys import ApiKey
from accounts.models.notifications import (
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
from accounts.models.users import (
    DEPARTMENT_MAX_DEPTH,
    Department,
    DepartmentTreeManager,
    Position,
    User,
    UserManager,
    lock_tenant,
)

__all__ = [
    "ApiKey",
    "DEPARTMENT_MAX_DEPTH",
    "Department",
    "DepartmentTreeManager",
    "Notification",
    "NotificationAudience",
    "NotificationDepartment",
    "NotificationLevel",
    "NotificationRead",
    "NotificationRole",
    "NotificationStatus",
    "NotificationType",
    "NotificationUser",
    "Position",
    "User",
    "UserManager",
    "lock_tenant",
]
