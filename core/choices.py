"""Choices shared by apps that know nothing of each other."""

from django.db import models


class HttpMethod(models.TextChoices):
    """The HTTP methods an API route answers (HEAD and OPTIONS follow GET and the router)."""

    GET = "GET", "GET"
    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    PATCH = "PATCH", "PATCH"
    DELETE = "DELETE", "DELETE"
