"""The permission catalogue, generated from the code.

Every model of the platform's apps is a resource named by ``rbac_resource`` (default: its
model name) with the actions ``view``, ``create``, ``update``, ``delete`` (plus ``restore``
for soft-deletable models), narrowed by ``rbac_actions`` and extended by
``rbac_operations`` (``{"unlock": "Unlock accounts"}``). ``sync_permissions`` writes the
catalogue into ``Permission`` after every ``migrate`` (``rbac.apps``) and on demand
(``manage.py sync_permissions``): new codes are added, renamed labels updated, vanished
codes deactivated. Nobody types permission rows by hand.
"""

from __future__ import annotations

import functools

from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.utils import translation
from django.utils.translation import gettext_lazy

from tenants.managers import is_soft_deletable

# Django admin's action names -> the catalogue's.
ADMIN_ACTIONS = {"view": "view", "add": "create", "change": "update", "delete": "delete"}
ACTION_LABELS = {
    "view": gettext_lazy("View"),
    "create": gettext_lazy("Create"),
    "update": gettext_lazy("Update"),
    "delete": gettext_lazy("Delete"),
    "restore": gettext_lazy("Restore"),
}
# A standard permission's name: its action and its resource ("View users").
NAME_FORMAT = gettext_lazy("%(action)s %(resource)s")


@dataclass(frozen=True)
class PermissionSpec:
    """One permission the code declares."""

    code: str
    name: str
    module: str
    type: str = "operation"


def resource_of(model: type[models.Model]) -> str:
    """Return the resource name of ``model`` in permission codes."""
    return getattr(model, "rbac_resource", model._meta.model_name)


def actions_of(model: type[models.Model]) -> tuple[str, ...]:
    """Return the standard actions ``model`` declares."""
    declared = getattr(model, "rbac_actions", None)
    if declared is not None:
        return tuple(declared)
    actions = ("view", "create", "update", "delete")
    return (*actions, "restore") if is_soft_deletable(model) else actions


def code_for(model: type[models.Model], action: str) -> str:
    """Return the permission code of ``action`` on ``model`` (``user:update``)."""
    return f"{resource_of(model)}:{action}"


def code_for_django_perm(perm: str) -> str | None:
    """Translate Django's ``app_label.change_model`` into ``model:update``; ``None`` if unknown."""
    app_label, _, codename = perm.partition(".")
    action, _, model_name = codename.partition("_")
    if action not in ADMIN_ACTIONS or not model_name:
        return None
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        return None
    return code_for(model, ADMIN_ACTIONS[action])


def declared_permissions() -> list[PermissionSpec]:
    """Return every permission the installed code declares, sorted by code.

    Names are stored in the catalogue, so they are rendered in the platform's language
    (``LANGUAGE_CODE``), never in that of the request that happens to run a sync.
    """
    with translation.override(settings.LANGUAGE_CODE):
        return [PermissionSpec(code, _label(model, action), model._meta.app_label)
                for code, (model, action) in sorted(_declared().items())]


def _declared() -> dict[str, tuple[type[models.Model], str]]:
    """Return every code the code base declares, with its model and action or operation."""
    declared = {}
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label not in settings.PLATFORM_APPS or meta.auto_created:
            continue
        for action in (*actions_of(model), *getattr(model, "rbac_operations", {})):
            declared[code_for(model, action)] = (model, action)
    return declared


def _label(model: type[models.Model], action: str) -> str:
    """Return the name of ``model``'s permission ``action`` in the active language."""
    operations = getattr(model, "rbac_operations", {})
    if action in operations:
        return str(operations[action])
    return str(NAME_FORMAT) % {"action": ACTION_LABELS.get(action, action),
                               "resource": model._meta.verbose_name}


def label(code: str) -> str | None:
    """Return the name of the permission ``code`` in the active language (the stored name
    is the platform's language), ``None`` for a code the code base no longer declares."""
    found = _declared_once().get(code)
    return _label(*found) if found else None


@functools.cache
def _declared_once() -> dict[str, tuple[type[models.Model], str]]:
    """``_declared`` once per process (the models do not change while it runs)."""
    return _declared()


def platform_actions(model: type[models.Model]) -> tuple[str, ...]:
    """Return the actions of ``model`` that only the platform tenant's roles may hold.

    ``rbac_platform_actions`` on a model names them; tenants, packages and the catalogue
    itself are the platform's to manage.
    """
    return tuple(getattr(model, "rbac_platform_actions", ()))


@functools.cache
def platform_codes() -> frozenset[str]:
    """Return the codes only the platform tenant's roles may hold (``platform_actions``).

    The models and their declarations are fixed once the apps are loaded: computed once per
    process (the API's permission check asks on every request).
    """
    return frozenset(
        code_for(model, action)
        for model in apps.get_models()
        if model._meta.app_label in settings.PLATFORM_APPS
        for action in platform_actions(model)
    )


def tenant_grantable_codes() -> list[str]:
    """Return the declared codes a tenant package may include (all but platform actions)."""
    platform = platform_codes()
    return [spec.code for spec in declared_permissions() if spec.code not in platform]


@dataclass(frozen=True)
class SyncReport:
    created: int
    updated: int
    deactivated: int


@transaction.atomic
def sync_permissions(using: str = "default") -> SyncReport:
    """Bring the ``Permission`` table in line with the code; return what changed."""
    from rbac.models import Permission

    declared = {spec.code: spec for spec in declared_permissions()}
    existing = {perm.code: perm for perm in Permission.objects.using(using).all()}
    created = updated = 0
    for code, spec in declared.items():
        perm = existing.get(code)
        if perm is None:
            Permission.objects.using(using).create(
                code=code, name=spec.name, module=spec.module, type=spec.type
            )
            created += 1
        elif (perm.name, perm.module, perm.type, perm.is_active) != (
            spec.name, spec.module, spec.type, True
        ):
            perm.name, perm.module, perm.type, perm.is_active = spec.name, spec.module, spec.type, True
            perm.save(using=using)
            updated += 1
    vanished = [code for code, perm in existing.items() if code not in declared and perm.is_active]
    deactivated = Permission.objects.using(using).filter(code__in=vanished).update(is_active=False)
    if created or updated or deactivated:
        from rbac.access import invalidate_all

        invalidate_all(using=using)
    return SyncReport(created, updated, deactivated)
