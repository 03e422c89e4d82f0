"""Unlock a locked account from the command line."""

from django.core.management.base import CommandError

from accounts import services
from accounts.choices import UserStatus
from accounts.models import User
from tenants.management.base import TenantCommand


class Command(TenantCommand):
    help = "Unlock a user locked after repeated failed sign-ins: unlock_user --tenant CODE USERNAME"

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("username")

    def handle_tenant(self, tenant, *args, **options):
        user = User.objects.filter(username=User.normalize_username(options["username"])).first()
        if user is None:
            raise CommandError(f"Tenant {tenant.code!r} has no user {options['username']!r}.")
        if user.status != UserStatus.LOCKED:
            raise CommandError(f"{user.username} is not locked (status: {user.status}).")
        services.unlock_user(user=user)
        self.stdout.write(self.style.SUCCESS(f"Unlocked {tenant.code}/{user.username}."))
