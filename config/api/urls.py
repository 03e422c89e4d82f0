"""The REST API's routes under /api/v1/ (namespace "api")."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from rbac.api.api_keys import ApiKeyViewSet
from notifications.api.viewsets import InboxViewSet, NotificationViewSet
from accounts.api.viewsets import DepartmentViewSet, PositionViewSet
from gateway.api.viewsets import (
    ApiEndpointViewSet,
    McpToolCallLogViewSet,
    McpToolViewSet,
)
from logs.api.viewsets import AuditLogViewSet, LoginLogViewSet, OperationLogViewSet
from rbac.api.packages import TenantPackageViewSet
from rbac.api.users import UserViewSet
from rbac.api.viewsets import MenuViewSet, PermissionViewSet, RoleViewSet
from tenants.api.viewsets import DictionaryItemViewSet, DictionaryViewSet, TenantViewSet
from testing.api.imports import ImportJobViewSet
from testing.api.runs import ExecutionViewSet, ScenarioRunViewSet, StepResultViewSet
from testing.api.viewsets import (
    BuiltinKeywordViewSet,
    DatabaseConfigViewSet,
    DatasetViewSet,
    EnvironmentViewSet,
    GlobalFunctionViewSet,
    InterfaceFolderViewSet,
    InterfaceViewSet,
    KeywordViewSet,
    PlanScenarioViewSet,
    PlanScheduleViewSet,
    ProjectViewSet,
    ScenarioStepViewSet,
    ScenarioViewSet,
    TestPlanViewSet,
    VariableViewSet,
)

app_name = "api"

router = DefaultRouter()
router.include_root_view = False
router.register("tenants", TenantViewSet, basename="tenant")
router.register("packages", TenantPackageViewSet, basename="package")
router.register("users", UserViewSet, basename="user")
router.register("departments", DepartmentViewSet, basename="department")
router.register("positions", PositionViewSet, basename="position")
router.register("roles", RoleViewSet, basename="role")
router.register("permissions", PermissionViewSet, basename="permission")
router.register("menus", MenuViewSet, basename="menu")
router.register("login-logs", LoginLogViewSet, basename="loginlog")
router.register("operation-logs", OperationLogViewSet, basename="operationlog")
router.register("audit-logs", AuditLogViewSet, basename="auditlog")
router.register("api-keys", ApiKeyViewSet, basename="apikey")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("inbox", InboxViewSet, basename="inbox")
router.register("dictionaries", DictionaryViewSet, basename="dictionary")
router.register("dictionary-items", DictionaryItemViewSet, basename="dictionaryitem")
router.register("endpoints", ApiEndpointViewSet, basename="endpoint")
router.register("mcp-tools", McpToolViewSet, basename="mcptool")
router.register("mcp-tool-calls", McpToolCallLogViewSet, basename="mcptoolcall")
router.register("testing/projects", ProjectViewSet, basename="testproject")
router.register("testing/database-configs", DatabaseConfigViewSet, basename="testdatabaseconfig")
router.register("testing/interface-folders", InterfaceFolderViewSet,
                basename="testinterfacefolder")
router.register("testing/interfaces", InterfaceViewSet, basename="testinterface")
router.register("testing/environments", EnvironmentViewSet, basename="testenvironment")
router.register("testing/variables", VariableViewSet, basename="testvariable")
router.register("testing/keywords", KeywordViewSet, basename="testkeyword")
router.register("testing/builtin-keywords", BuiltinKeywordViewSet, basename="testbuiltinkeyword")
router.register("testing/global-functions", GlobalFunctionViewSet, basename="testglobalfunction")
router.register("testing/scenarios", ScenarioViewSet, basename="testscenario")
router.register("testing/scenario-steps", ScenarioStepViewSet, basename="testscenariostep")
router.register("testing/datasets", DatasetViewSet, basename="testdataset")
router.register("testing/plans", TestPlanViewSet, basename="testplan")
router.register("testing/plan-scenarios", PlanScenarioViewSet, basename="testplanscenario")
router.register("testing/plan-schedules", PlanScheduleViewSet, basename="testplanschedule")
router.register("testing/executions", ExecutionViewSet, basename="testexecution")
router.register("testing/imports", ImportJobViewSet, basename="testimport")
router.register("testing/scenario-runs", ScenarioRunViewSet, basename="testscenariorun")
router.register("testing/step-results", StepResultViewSet, basename="teststepresult")

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include(router.urls)),
]
