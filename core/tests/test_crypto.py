"""Secrets sealed at rest (core.crypto) and their key rotation over every encrypted field."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from core.context import tenant_context
from core.crypto import SecretUnreadable, seal, unseal
from gateway.models import McpTool

pytestmark = pytest.mark.django_db


def raw_auth_config(pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT auth_config FROM mcp_tools WHERE id = %s",
                       [McpTool._meta.pk.get_db_prep_value(pk, connection)])
        return cursor.fetchone()[0]


def external_tool(tenant, **fields) -> McpTool:
    with tenant_context(tenant):
        return McpTool.objects.create(
            name="weather", tool_type="external", external_url="https://api.example.com/w",
            permission_code="mcp_tool:call", auth_type="bearer",
            auth_config={"token": "s3cr3t-token"}, **fields,
        )


def test_credentials_are_stored_encrypted(tenant_a):
    """The column holds ciphertext; the model gives the value back."""
    tool = external_tool(tenant_a)
    stored = raw_auth_config(tool.pk)
    assert stored.startswith("enc:v1:") and "s3cr3t" not in stored
    assert McpTool.objects.all_tenants().get(pk=tool.pk).auth_config == {"token": "s3cr3t-token"}


def test_a_value_no_key_opens_is_refused_not_passed_on(settings):
    sealed = seal({"token": "x"})
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretUnreadable):
        unseal(sealed)


def test_rotation_reseals_under_the_new_key(tenant_a, settings):
    """New key first, re-encrypt, drop the old key: the secret still opens."""
    old = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    tool = external_tool(tenant_a)
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("reencrypt_secrets", stdout=open("/dev/null", "w"))
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert McpTool.objects.all_tenants().get(pk=tool.pk).auth_config == {"token": "s3cr3t-token"}
