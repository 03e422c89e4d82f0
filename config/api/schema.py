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
