"""The platform's configuration package as an app, so its system checks are registered."""

from django.apps import AppConfig


class PlatformConfig(AppConfig):
    """Own the settings, URLs, Celery app, datasource router, the API machinery and the
    start-up checks."""

    name = "config"
    verbose_name = "Platform configuration"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the checks)
        from config.api import schema  # noqa: F401  (registers the OpenAPI extensions)
