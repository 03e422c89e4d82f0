"""The authentication backend: tenant code + username + password (accounts); permissions from
the one RBAC decision."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest

from accounts.models import User
from accounts.services import Credentials, check_credentials
from rbac.access import get_access
from rbac.catalogue import code_for_django_perm


class TenantAuthenticationBackend(BaseBackend):
    """Authenticate within one tenant; load session users by id across tenants; decide
    permissions with ``rbac.access``, so ``has_perm``/``has_module_perms`` in the admin
    follow the user's roles and tenant package.

    ``authenticate()`` answers only when a tenant code is given, so no code path can sign a
    user in by username alone. Sign-in from the login page goes through
    ``accounts.services.sign_in``, which also records the attempt and applies the lockout.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        tenant_code: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not (tenant_code and username and password is not None):
            return None
        _, user, password_ok = check_credentials(
            Credentials(tenant_code=tenant_code, username=username, password=password)
        )
        if user is None or not password_ok or user.sign_in_refusal() is not None:
            return None
        return user

    def get_user(self, user_id: Any) -> User | None:
        """Return the session's user, whatever the tenant (the id comes from the session).

        Soft-deleted users are returned too, so that the tenant middleware logs them out
        (ending the session for good) instead of the session outliving a later restore.
        """
        return (
            User.objects.all_tenants(include_deleted=True)
            .select_related("tenant")
            .filter(pk=user_id)
            .first()
        )

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        """Return the user's permission codes (``user:update``)."""
        if not user_obj.is_active:
            return set()
        return set(get_access(user_obj).permissions)

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        """Decide a Django permission (``accounts.change_user``) or a code (``user:unlock``)."""
        if not user_obj.is_active:
            return False
        code = code_for_django_perm(perm) if "." in perm else perm
        return code is not None and get_access(user_obj).allows(code)

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        """Return whether the user holds any permission of the app."""
        return user_obj.is_active and get_access(user_obj).allows_module(app_label)
