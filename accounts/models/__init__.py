"""Models of the accounts app, one module per subdomain."""

from accounts.models.api_keys import ApiKey
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
    "Position",
    "User",
    "UserManager",
    "lock_tenant",
]
