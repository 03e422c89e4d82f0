"""A test-only app whose table is routed to another datasource (seed 000 section 4.2)."""

from django.apps import AppConfig


class RoutedConfig(AppConfig):
    name = "tests.routed"
    label = "routed"
    default_auto_field = "django.db.models.BigAutoField"
