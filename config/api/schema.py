"""OpenAPI details drf-spectacular cannot infer: how API keys authenticate."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describe ``Authorization: Bearer <api key>`` in the schema."""

    target_class = "accounts.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "atr_<prefix>_<secret>",
            "description": "An API key, shown once when it is issued.",
        }


class InProcessAuthenticationScheme(OpenApiAuthenticationExtension):
    """Leave the MCP gateway's in-process principal out of the schema: no client can use it."""

    target_class = "accounts.api.authentication.InProcessAuthentication"
    name = ()  # no security scheme component

    def get_security_requirement(self, auto_schema):
        return None

    def get_security_definition(self, auto_schema):
        return []


def _inherited_docs() -> set[str]:
    """Return the docstrings of the platform's base serializers, which drf-spectacular would
    give every subclass without a docstring of its own as its description."""
    import inspect

    from rest_framework import serializers

    from tenants.api import base

    return {inspect.cleandoc(cls.__doc__) for cls in vars(base).values()
            if inspect.isclass(cls) and issubclass(cls, serializers.BaseSerializer)
            and cls.__module__ == base.__name__ and cls.__doc__}


def drop_inherited_descriptions(result, generator, request, public):
    """Postprocessing hook: a component whose description is a base serializer's docstring
    (how the platform's serializers are built, which says nothing to a client or an agent
    reading the document, and reaches the MCP tools' output schemas) has none."""
    internal = _inherited_docs()
    for component in (result.get("components") or {}).get("schemas", {}).values():
        if component.get("description") in internal:
            del component["description"]
    return result
