"""The authentication backend: tenant code + username + password, Django permissions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.http import HttpRequest

from accounts.models import User
from accounts.services import Credentials, check_credentials


class TenantAuthenticationBackend(ModelBackend):
    """Authenticate within one tenant; load session users by id across tenants.

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

    def _get_group_permissions(self, user_obj: User):
        # Global groups are removed from the user model; roles are per tenant.
        return Permission.objects.none()
