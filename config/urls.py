"""URL map of the platform."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.decorators.cache import cache_control
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.views import home_view
from config import health, metrics
from gateway import views as gateway_views

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Prometheus metrics: a token or an allowed network, else 404 (config/metrics.py).
    path("metrics", metrics.metrics_view, name="metrics"),
    # Browsers ask for /favicon.ico on every page: the static icon, its address looked up per
    # request (hashed in production), the redirect cached for a day.
    path("favicon.ico", cache_control(max_age=86400, public=True)(
        RedirectView.as_view(url=lazy(static, str)("favicon.ico"))), name="favicon"),
    # Admin sign-in needs a tenant code too: one login page for everybody.
    path(
        "admin/login/",
        RedirectView.as_view(pattern_name="accounts:login", query_string=True),
        name="admin-login",
    ),
    path("admin/", admin.site.urls),
    # The inbox keeps the address it had when notifications were part of accounts.
    path("accounts/notifications/", include("notifications.urls")),
    path("accounts/", include("accounts.urls")),
    path("usage/", include("logs.urls")),
    path("testing/", include("testing.urls")),
    path("api/v1/", include("config.api.urls", namespace="api")),
    # OpenAPI 3 and its interactive docs; the docs' assets are served locally (sidecar).
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # The MCP endpoint for AI agents, and its protected-resource metadata (RFC 9728).
    path("mcp/", gateway_views.mcp_endpoint, name="mcp-endpoint"),
    path(
        ".well-known/oauth-protected-resource/mcp/",
        gateway_views.resource_metadata,
        name="mcp-resource-metadata",
    ),
    path(".well-known/oauth-protected-resource", gateway_views.resource_metadata),
    path("", home_view, name="home"),
]
