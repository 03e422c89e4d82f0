"""System checks that keep every tenant-owned table shaped as seed 003 requires."""

from __future__ import annotations

from django.apps import apps
from django.core.checks import Error, register

from tenants.models import TenantModel, TenantScopedModel


def _is_mptt_tree_index(model, index) -> bool:
    # django-mptt indexes (tree_id, lft) for its own tree walks, which span no tenant.
    mptt_meta = getattr(model, "_mptt_meta", None)
    return mptt_meta is not None and list(index.fields) == [
        mptt_meta.tree_id_attr,
        mptt_meta.left_attr,
    ]


@register()
def check_tenant_owned_tables(app_configs=None, **kwargs):
    """Indexes start with the tenant; live uniqueness includes ``alive``; the alive check exists."""
    errors = []
    for model in apps.get_models():
        if not issubclass(model, TenantScopedModel) or model._meta.abstract:
            continue
        label = model._meta.label
        for index in model._meta.indexes:
            if _is_mptt_tree_index(model, index):
                continue
            if not index.fields or index.fields[0].lstrip("-") != "tenant":
                errors.append(
                    Error(
                        f"{label}: index {index.name!r} must start with the tenant.",
                        hint="Put 'tenant' first: indexes of tenant-owned tables start with it.",
                        obj=model,
                        id="tenants.E001",
                    )
                )
        if not issubclass(model, TenantModel):
            continue
        names = {constraint.name for constraint in model._meta.constraints}
        if f"{model._meta.app_label}_{model._meta.model_name}_alive_ck" not in names:
            errors.append(
                Error(
                    f"{label} dropped TenantModel's alive/is_deleted check constraint.",
                    hint="Write Meta.constraints as [*TenantModel.Meta.constraints, ...].",
                    obj=model,
                    id="tenants.E002",
                )
            )
        for constraint in model._meta.constraints:
            fields = list(getattr(constraint, "fields", ()) or ())
            if not fields or not hasattr(constraint, "nulls_distinct"):
                continue
            if fields[0] != "tenant" or fields[-1] != "alive":
                errors.append(
                    Error(
                        f"{label}: unique constraint {constraint.name!r} must be "
                        "(tenant, ..., alive) so that it binds one tenant's live rows.",
                        hint="Build it with tenants.models.unique_live_per_tenant().",
                        obj=model,
                        id="tenants.E003",
                    )
                )
        globally_unique = set(getattr(model, "globally_unique_fields", ()))
        for field in model._meta.concrete_fields:
            if field.unique and not field.primary_key and field.name not in globally_unique:
                errors.append(
                    Error(
                        f"{label}.{field.name} is unique across all tenants and deleted rows.",
                        hint="Use unique_live_per_tenant() instead of unique=True, or list a "
                        "random token in the model's globally_unique_fields.",
                        obj=model,
                        id="tenants.E004",
                    )
                )
    return errors
