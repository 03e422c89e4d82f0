"""The interface tree of a project: folders (seed 001 §3.4) and interfaces (§3.5)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _
from mptt.models import MPTTModel, TreeForeignKey

from tenants.managers import TenantManager
from tenants.models import TenantModel
from tenants.trees import TenantTreeManager, lock_tenant
from testing.choices import BodyType, RequestMethod
from testing.models.base import ProjectOwnedModel, validate_json_field

FOLDER_MAX_DEPTH = 5


class FolderTreeManager(TenantTreeManager):
    """django-mptt's manager of interface folders (``tenants.trees``)."""

    max_depth = FOLDER_MAX_DEPTH
    depth_message = _("Folders nest at most %(max)d levels; this move would make %(depth)d.")
    move_message = _("A folder can only move within its own project.")

    def move_node(self, node, target, position: str = "last-child"):
        """Move ``node``, refusing a target in another project."""
        if target is not None and target.project_id != node.project_id:
            from mptt.exceptions import InvalidMove

            raise InvalidMove(str(self.move_message))
        return super().move_node(node, target, position)


class InterfaceFolder(MPTTModel, ProjectOwnedModel):
    """A folder of the project's interface tree, at most five levels deep.

    Deleting a folder is refused while it holds live folders or interfaces (the seed's
    ``ON DELETE SET NULL`` would scatter them to the root unnoticed).
    """

    name = models.CharField(_("name"), max_length=255)
    parent = TreeForeignKey("self", verbose_name=_("parent"), on_delete=models.PROTECT,
                            null=True, blank=True, related_name="children")
    sort_order = models.IntegerField(_("sort order"), default=0)

    objects = TenantManager()
    _tree_manager = FolderTreeManager()

    class MPTTMeta:
        order_insertion_by = ["sort_order", "name"]

    class Meta(ProjectOwnedModel.Meta):
        db_table = "testing_interface_folders"
        verbose_name = _("interface folder")
        verbose_name_plural = _("interface folders")
        default_manager_name = "objects"
        ordering = ["tree_id", "lft"]
        indexes = [
            models.Index(fields=["tenant", "project", "tree_id", "lft"],
                         name="testing_folders_tree_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save under the tenant's tree lock, refusing a parent too deep or elsewhere."""
        self.assign_tenant_from_context()
        with transaction.atomic():
            lock_tenant(self.tenant_id)
            self.check_parent()
            super().save(*args, **kwargs)

    def subtree_height(self) -> int:
        """Return how many levels lie below this folder (0 for a leaf)."""
        if self.pk is None or self._state.adding or self.tree_id is None:
            return 0
        deepest = (type(self)._tree_manager
                   .filter(tree_id=self.tree_id, lft__gt=self.lft, rght__lt=self.rght)
                   .aggregate(models.Max("level"))["level__max"])
        return 0 if deepest is None else deepest - self.level

    def check_parent(self) -> None:
        """Raise ``ValidationError`` when the parent breaks the tree's rules."""
        parent = self.parent
        if parent is None:
            return
        if parent.tenant_id != self.tenant_id or parent.project_id != self.project_id:
            raise ValidationError({"parent": _("Choose a folder of the same project.")})
        if parent.is_deleted:
            raise ValidationError({"parent": _("The parent folder is deleted.")})
        if not self._state.adding and self.pk is not None and (
            parent.pk == self.pk
            or (parent.tree_id == self.tree_id and self.lft < parent.lft < self.rght)
        ):
            raise ValidationError({"parent": _("A folder cannot be moved under itself or "
                                               "one of its subfolders.")})
        depth = parent.level + 2 + self.subtree_height()
        if depth > FOLDER_MAX_DEPTH:
            raise ValidationError({"parent": _(
                "Folders nest at most %(max)d levels; this parent would make %(depth)d."
            ) % {"max": FOLDER_MAX_DEPTH, "depth": depth}})

    def clean(self) -> None:
        """Validate the tree shape."""
        super().clean()
        self.check_parent()

    def soft_delete_blockers(self) -> list[str]:
        """Refuse while live subfolders or interfaces remain in the folder."""
        blockers = []
        if InterfaceFolder.objects.all_tenants().filter(parent=self).exists():
            blockers.append(str(_("The folder has subfolders; move or delete them first.")))
        if Interface.objects.all_tenants().filter(folder=self).exists():
            blockers.append(str(_("The folder holds interfaces; move or delete them first.")))
        return blockers


def body_errors(body_type: str, body: Any) -> list[str]:
    """Return what is wrong with ``body`` for ``body_type``; empty when it fits."""
    from testing.schemas import schema_errors

    if body_type == BodyType.NONE:
        return [] if body in (None, "", [], {}) else [str(_("A request without a body "
                                                            "carries no body value."))]
    if body_type in (BodyType.FORM, BodyType.MULTIPART):
        return schema_errors("pairs", body if body is not None else [])
    if body_type == BodyType.RAW:
        if not isinstance(body, str):
            return [str(_("A raw body is text."))]
        size = len(body.encode("utf-8"))
    else:  # JSON: any JSON value
        size = len(json.dumps(body, ensure_ascii=False).encode("utf-8"))
    limit = settings.TESTING_BODY_MAX_BYTES
    if size > limit:
        return [str(_("The body is %(size)d bytes; at most %(limit)d are accepted.")
                    % {"size": size, "limit": limit})]
    return []


class Interface(ProjectOwnedModel):
    """One request of the project's API, with what to check and keep from its answer.

    ``url`` is absolute, or a path joined to the environment's base URL at run time;
    ``{{name}}`` references a variable anywhere in the URL, query, headers and body.
    """

    folder = models.ForeignKey(InterfaceFolder, verbose_name=_("folder"),
                               on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="interfaces")
    name = models.CharField(_("name"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    method = models.CharField(_("method"), max_length=10, choices=RequestMethod.choices,
                              default=RequestMethod.GET)
    url = models.CharField(_("URL"), max_length=2048,
                           help_text=_("An absolute URL, or a path on the environment's base "
                                       "URL, e.g. /api/v1/users/{{user_id}}/"))
    query = models.JSONField(_("query parameters"), default=list, blank=True)
    headers = models.JSONField(_("headers"), default=list, blank=True)
    body_type = models.CharField(_("body type"), max_length=20, choices=BodyType.choices,
                                 default=BodyType.NONE)
    body = models.JSONField(_("body"), null=True, blank=True)
    content_type = models.CharField(_("content type"), max_length=200, blank=True,
                                    help_text=_("Of a raw body, e.g. text/xml."))
    assertions = models.JSONField(_("assertions"), default=list, blank=True)
    extractors = models.JSONField(_("extractors"), default=list, blank=True)
    sort_order = models.IntegerField(_("sort order"), default=0)
    # Where an imported interface came from, for the next import of the same file to sync:
    # the file's format and its key of the request ("GET /pets/{petId}"), and the digest of
    # what the import wrote, which tells a tester's later edit from the import's own.
    import_key = models.CharField(_("import key"), max_length=600, blank=True, editable=False)
    import_digest = models.CharField(_("import digest"), max_length=64, blank=True,
                                     editable=False)

    class Meta(ProjectOwnedModel.Meta):
        db_table = "testing_interfaces"
        verbose_name = _("interface")
        verbose_name_plural = _("interfaces")
        ordering = ["sort_order", "name", "id"]
        indexes = [
            models.Index(fields=["tenant", "project", "folder", "sort_order"],
                         name="testing_interfaces_tree_idx"),
            models.Index(fields=["tenant", "project", "import_key"],
                         name="testing_interfaces_import_idx"),
        ]
        constraints = [*TenantModel.Meta.constraints]

    def __str__(self) -> str:
        return f"{self.method} {self.name}"

    def clean_fields(self, exclude=None) -> None:
        """Validate the fields, then the JSON fields against the shipped schemas."""
        errors: dict[str, list] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        for field, schema in (("query", "pairs"), ("headers", "pairs"),
                              ("assertions", "assertions"), ("extractors", "extractors")):
            if field not in errors:
                validate_json_field(self, field, schema, errors)
        if "body" not in errors and "body_type" not in errors:
            for message in body_errors(self.body_type, self.body):
                errors.setdefault("body", []).append(ValidationError(message, code="schema"))
        if errors:
            raise ValidationError(errors)

    def clean(self) -> None:
        """Refuse a folder of another project."""
        super().clean()
        errors = self.check_same_project(folder=self.folder)
        if errors:
            raise ValidationError(errors)

    def soft_delete_blockers(self) -> list[str]:
        """Refuse while live scenario steps send this interface."""
        from testing.models.scenarios import ScenarioStep

        steps = ScenarioStep.objects.all_tenants().filter(interface=self, scenario__is_deleted=False)
        if steps.exists():
            names = sorted({step.scenario.name for step in steps.select_related("scenario")[:5]})
            return [str(_("Scenarios send this interface: %(names)s. Remove those steps first.")
                        % {"names": ", ".join(names)})]
        return []

    def imported_content(self) -> dict:
        """Return what an import writes of this interface (its digest tells edits apart)."""
        return {"name": self.name, "description": self.description, "method": self.method,
                "url": self.url, "query": self.query, "headers": self.headers,
                "body_type": self.body_type, "body": self.body,
                "content_type": self.content_type, "assertions": self.assertions,
                "extractors": self.extractors}

    def as_request(self) -> dict:
        """Return the interface's request as the plain data of an inline step."""
        return {"method": self.method, "url": self.url, "query": self.query,
                "headers": self.headers, "body_type": self.body_type, "body": self.body,
                "content_type": self.content_type, "assertions": self.assertions,
                "extractors": self.extractors}
