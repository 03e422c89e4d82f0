"""The platform's configuration package as an app, so its system checks are registered."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlatformConfig(AppConfig):
    """Own the settings, URLs, Celery app, datasource router, the API machinery and the
    start-up checks."""

    name = "config"
    verbose_name = _("Platform configuration")

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the checks)
        from config.api import schema  # noqa: F401  (registers the OpenAPI extensions)
