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
