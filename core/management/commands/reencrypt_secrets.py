"""Seal every stored secret again under the first of FIELD_ENCRYPTION_KEYS (key rotation).

Every ``core.crypto`` encrypted field of every installed model is rotated, whichever app
declares it (``core.crypto.encrypted_fields``).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from core.crypto import encrypted_fields


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (every encrypted field of every model) under the "
        "first key of FIELD_ENCRYPTION_KEYS. Run after putting a new key first; then the "
        "old key can be dropped."
    )

    def handle(self, *args, **options) -> None:
        total = 0
        for model, names in encrypted_fields().items():
            manager = model._base_manager
            for name in names:
                count = 0
                rows = manager.exclude(**{f"{name}__isnull": True}).order_by("pk")
                for pk in rows.values_list("pk", flat=True):
                    with transaction.atomic(using=manager.db):
                        row = manager.select_for_update().only("pk", name).get(pk=pk)
                        # Writing re-seals: the field encrypts with the first key every time.
                        manager.filter(pk=pk).update(**{name: getattr(row, name)})
                    count += 1
                total += count
                self.stdout.write(f"{model._meta.label}.{name}: {count} value(s) re-encrypted.")
        self.stdout.write(f"Re-encrypted {total} stored secret(s).")
