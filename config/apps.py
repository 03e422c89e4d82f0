"""The platform's configuration package as an app, so its system checks are registered."""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class AtriumAdminConfig(admin_apps.AdminConfig):
    """Django's admin, on the platform's admin site (``config.admin_site``)."""

    default = False  # named in INSTALLED_APPS; the platform's own config stays the default
    default_site = "config.admin_site.AtriumAdminSite"


class PlatformConfig(AppConfig):
    """Own the settings, URLs, Celery app, datasource router, the API machinery and the
    start-up checks."""

    name = "config"
    verbose_name = _("Platform configuration")

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the checks)
        from config.api import schema  # noqa: F401  (registers the OpenAPI extensions)
        from config import metrics

        metrics.install()  # the statement observer and Celery signals of /metrics
