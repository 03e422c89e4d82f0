"""Create the demo data: a platform operator and two tenants with their organisations.

Running it again changes nothing that exists: rows are found by their codes and usernames.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_noop

from accounts.models import Department, Position, User
from config.demo_testing import demo_project
from core.context import actor_context, tenant_context
from rbac.catalogue import tenant_grantable_codes
from rbac.models import DataScope, Menu, Permission, Role
from rbac.services import assign_roles, ensure_admin_role
from tenants.models import Tenant, TenantPackage, TenantPlan

DEMO_PASSWORD = "Atrium-demo-2026"

TENANTS = [
    {
        "code": "acme",
        "name": "Acme Manufacturing",
        "plan": TenantPlan.ENTERPRISE,
        "departments": [
            ("hq", "Headquarters", None),
            ("eng", "Engineering", "hq"),
            ("eng-platform", "Platform Team", "eng"),
            ("sales", "Sales", "hq"),
        ],
    },
    {
        "code": "globex",
        "name": "Globex Trading",
        "plan": TenantPlan.PRO,
        "departments": [
            ("hq", "Head Office", None),
            ("ops", "Operations", "hq"),
            ("finance", "Finance", "hq"),
        ],
    },
]

POSITIONS = [("manager", "Manager", 10), ("engineer", "Engineer", 20), ("analyst", "Analyst", 30)]

# A member's role: see the organisation, manage their own records.
MEMBER_CODES = ("user:view", "department:view", "position:view")

# The demo navigation: (code, name, path, parent code, permission needed to see it).
# The names are message ids: stored as written, shown in the user's language (Menu.label).
MENUS = [
    ("workspace", gettext_noop("Workspace"), "", None, None),
    ("home", gettext_noop("Home"), "/", "workspace", None),
    ("notifications", gettext_noop("Notifications"), "/accounts/notifications/", "workspace",
     None),
    ("developers", gettext_noop("Developers"), "", None, None),
    ("api-docs", gettext_noop("API documentation"), "/api/docs/", "developers", None),
    ("usage", gettext_noop("Usage"), "/usage/", "workspace", "usagedaily:view"),
    ("api-testing", gettext_noop("API testing"), "", None, None),
    ("testing-projects", gettext_noop("Test projects"), "/testing/", "api-testing",
     "project:view"),
    ("testing-functions", gettext_noop("Global functions"), "/testing/functions/", "api-testing",
     "globalfunction:view"),
    ("administration", gettext_noop("Administration"), "", None, None),
    ("admin-site", gettext_noop("Administration site"), "/admin/", "administration",
     "user:update"),
]
# Public MCP tools of the platform: (name, GET route of the registry).
DEMO_TOOLS = (
    ("users_list", "/api/v1/users/"),
    ("departments_list", "/api/v1/departments/"),
    ("me", "/api/v1/me/"),
)
MEMBER_MENUS = ("workspace", "home", "notifications", "developers", "api-docs")
# A tester designs and runs API tests in the tenant's projects: every code of the testing
# app, the organisation read-only, no platform administration.
TESTER_MENUS = (*MEMBER_MENUS, "api-testing", "testing-projects", "testing-functions")


class Command(BaseCommand):
    help = "Create (or complete) the demo tenants, users, departments and positions."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        menus = {}
        for order, (code, name, path, parent, permission) in enumerate(MENUS):
            menus[code] = Menu.objects.filter(code=code).first() or Menu.objects.create(
                code=code, name=name, path=path, parent=menus.get(parent), sort_order=order,
                permission=Permission.objects.filter(code=permission).first(),
            )
        package, _ = TenantPackage.objects.get_or_create(
            code="standard", defaults={"name": "Standard", "max_users": 100}
        )
        package.permissions.add(*Permission.objects.filter(code__in=tenant_grantable_codes()))
        package.menus.add(*menus.values())
        platform = Tenant.objects.get(is_platform=True)
        with tenant_context(platform):
            self._user(platform, "admin", name="Platform Operator", superuser=True)
            self._demo_tools(platform)
        ensure_admin_role(platform)
        for spec in TENANTS:
            tenant, _ = Tenant.objects.get_or_create(
                code=spec["code"],
                defaults={"name": spec["name"], "plan": spec["plan"], "package": package},
            )
            with tenant_context(tenant):
                departments = {}
                for code, name, parent in spec["departments"]:
                    departments[code] = Department.objects.filter(code=code).first() or (
                        Department.objects.create(
                            tenant=tenant, code=code, name=name, parent=departments.get(parent)
                        )
                    )
                positions = {
                    code: Position.objects.get_or_create(
                        code=code, defaults={"tenant": tenant, "name": name, "sort_order": order}
                    )[0]
                    for code, name, order in POSITIONS
                }
                admin = self._user(
                    tenant, "admin", name=f"{spec['name']} Administrator", staff=True,
                    department=departments["hq"], position=positions["manager"],
                )
                assign_roles(user=admin, roles=[ensure_admin_role(tenant)])
                member = Role.objects.filter(code="member").first() or Role.objects.create(
                    code="member", name="Member", data_scope=DataScope.DEPARTMENT
                )
                member.permissions.add(*Permission.objects.filter(code__in=MEMBER_CODES))
                member.menus.add(*(menus[code] for code in MEMBER_MENUS))
                alice = self._user(
                    tenant, "alice", name="Alice", department=next(reversed(departments.values())),
                    position=positions["engineer"],
                )
                assign_roles(user=alice, roles=[member])
                tester = self._user(
                    tenant, "tester", name="Tess Tester", department=departments.get("eng", departments["hq"]),
                    position=positions["engineer"],
                )
                assign_roles(user=tester, roles=[self._tester_role(menus)])
                if spec["code"] == "acme":
                    with actor_context(tester.pk):
                        demo_project(tester)
        # The usage dashboard's past days, from what exists (the daily rollup does this
        # from then on); today's figures are counted live.
        from logs.usage import recent_days, rollup_missing

        rollup_missing(recent_days())
        self.stdout.write(self.style.SUCCESS("Demo data is in place. Sign in at /accounts/login/ with:"))
        self.stdout.write(f"  platform operator: tenant 'platform', user 'admin', password '{DEMO_PASSWORD}'")
        for spec in TENANTS:
            self.stdout.write(
                f"  {spec['name']}: tenant '{spec['code']}', users 'admin' (administrator), "
                f"'alice' (member) and 'tester' (API testing), password '{DEMO_PASSWORD}'"
            )

    def _tester_role(self, menus) -> Role:
        """Return the tenant's "Tester" role: every testing code, the organisation read-only."""
        role = Role.objects.filter(code="tester").first() or Role.objects.create(
            code="tester", name="Tester", data_scope=DataScope.ALL,
            description="Designs and runs API tests in the tenant's projects.",
        )
        role.permissions.add(*Permission.objects.filter(
            Q(module="testing") | Q(code__in=MEMBER_CODES), is_active=True))
        role.menus.add(*(menus[code] for code in TESTER_MENUS))
        return role

    def _demo_tools(self, platform: Tenant) -> None:
        """Offer a few read-only API tools to every tenant's agents (public platform tools)."""
        from gateway.models import McpTool
        from gateway.services.tools import create_api_tool
        from rbac.models import ApiEndpoint

        for name, path in DEMO_TOOLS:
            if McpTool.objects.filter(name=name).exists():
                continue
            endpoint = ApiEndpoint.objects.filter(path=path, method="GET", is_active=True).first()
            if endpoint is not None:
                create_api_tool(endpoint=endpoint, tenant=platform, name=name, is_public=True)

    def _user(self, tenant: Tenant, username: str, *, name: str, superuser: bool = False,
              staff: bool = False, **fields) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(
                username, DEMO_PASSWORD, tenant=tenant, name=name,
                is_staff=staff or superuser, is_superuser=superuser, **fields,
            )
        return user
