"""The dictionaries API: /api/v1/dictionaries/ and /api/v1/dictionary-items/."""

from __future__ import annotations

from tenants.models import Dictionary, DictionaryItem
from tests.api_cases import SoftDeleteAPIViewTestCase


def dictionary_of(tenant, dict_type: str = "colour") -> Dictionary:
    return (
        Dictionary.objects.all_tenants().filter(tenant=tenant, type=dict_type).first()
        or Dictionary.objects.create(tenant=tenant, type=dict_type, name=dict_type.title())
    )


class TestDictionaryAPI(SoftDeleteAPIViewTestCase):
    basename = "dictionary"
    model = Dictionary

    def make(self, tenant, index):
        return Dictionary.objects.create(tenant=tenant, type=f"type{index}", name=f"Type {index}")

    def create_data(self, tenant):
        return {"type": "priority", "name": "Priority", "description": "Ticket priorities."}

    def update_data(self, row):
        return {"type": row.type, "name": "Renamed", "status": "inactive"}

    def invalid_payloads(self, tenant):
        return [({"type": "Not Valid!", "name": "", "status": "gone"}, {"type", "name", "status"})]


class TestDictionaryItemAPI(SoftDeleteAPIViewTestCase):
    basename = "dictionaryitem"
    model = DictionaryItem
    patch_data = {"label": "Patched"}

    def make(self, tenant, index):
        return DictionaryItem.objects.create(
            tenant=tenant, dictionary=dictionary_of(tenant), label=f"Label {index}",
            value=f"v{index}",
        )

    def create_data(self, tenant):
        return {"dictionary": str(dictionary_of(tenant).pk), "label": "Red", "value": "red",
                "sort_order": 1}

    def update_data(self, row):
        return {"dictionary": str(row.dictionary_id), "label": "Renamed", "value": row.value,
                "sort_order": 9, "status": "inactive"}

    def invalid_payloads(self, tenant):
        return [({"dictionary": str(dictionary_of(tenant).pk), "label": "", "value": "",
                  "sort_order": "first"}, {"label", "value", "sort_order"})]

    def foreign_references(self, other_org):
        other = dictionary_of(other_org["root"].tenant, "elsewhere")
        return [({"dictionary": str(other.pk)}, "dictionary")]
