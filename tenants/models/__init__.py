"""Models of the tenancy core, one module per subdomain."""

from tenants.models.base import (
    AuditedModel,
    CodeField,
    Tenant,
    TenantModel,
    TenantPlan,
    TenantScopedModel,
    TenantStatus,
    code_validator,
    get_current_tenant,
    unique_live_per_tenant,
)
from tenants.models.dictionaries import (
    Dictionary,
    DictionaryItem,
    DictionaryManager,
    DictionaryQuerySet,
    DictionaryStatus,
)
from tenants.models.packages import PackageMenu, PackageOperation, TenantPackage

__all__ = [
    "Dictionary",
    "DictionaryItem",
    "DictionaryManager",
    "DictionaryQuerySet",
    "DictionaryStatus",
    "PackageMenu",
    "PackageOperation",
    "TenantPackage",
    "AuditedModel",
    "CodeField",
    "Tenant",
    "TenantModel",
    "TenantPlan",
    "TenantScopedModel",
    "TenantStatus",
    "code_validator",
    "get_current_tenant",
    "unique_live_per_tenant",
]
