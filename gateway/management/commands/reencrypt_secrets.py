"""Seal every stored secret again under the first of FIELD_ENCRYPTION_KEYS (key rotation)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from gateway.models import McpTool


class Command(BaseCommand):
    help = (
        "Re-encrypt stored credentials (external MCP tools' auth settings) under the first "
        "key of FIELD_ENCRYPTION_KEYS. Run after putting a new key first; then the old key "
        "can be dropped."
    )

    def handle(self, *args, **options) -> None:
        count = 0
        rows = McpTool._base_manager.exclude(auth_config__isnull=True).order_by("pk")
        for pk in rows.values_list("pk", flat=True):
            with transaction.atomic():
                tool = McpTool._base_manager.select_for_update().only("pk", "auth_config").get(pk=pk)
                # Saving re-seals: the field encrypts with the first key on every write.
                McpTool._base_manager.filter(pk=pk).update(auth_config=tool.auth_config)
            count += 1
        self.stdout.write(f"Re-encrypted the credentials of {count} tool(s).")
