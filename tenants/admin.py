"""Admin for tenants, and the mixin that scopes every tenant-owned model's admin.

Scoping lives in the managers: the middleware puts a tenant administrator's tenant in
context, so every queryset the admin builds from ``_default_manager`` (change lists,
change forms, foreign-key choices, autocompletes, raw-id lookups, related list filters)
holds that tenant's rows only. The admin's own querysets are further narrowed to the
user's data scope (``tenants.scoping.restrict``, RBAC's decision). A platform operator's requests run with every tenant in
scope; for them the mixin adds the tenant column, an explicit tenant filter and a required
tenant field with no default.
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.context import get_current_tenant_id
from tenants.managers import is_soft_deletable
from tenants.models import Tenant
from tenants.scoping import restrict


def is_operator(request: HttpRequest) -> bool:
    """Return whether the request comes from a platform operator."""
    user = request.user
    return user.is_authenticated and user.is_platform_operator


class TenantFormMixin:
    """Model-form behaviour for tenant-owned rows.

    A new row gets the tenant in context before validation when the form has no tenant
    field, and the tenant and ``alive`` columns are never excluded from model validation,
    so per-tenant uniqueness is checked as a field error instead of failing in the database.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.tenant_id is None and "tenant" not in self.fields:
            self.instance.tenant_id = get_current_tenant_id()

    def _get_validation_exclusions(self) -> set[str]:
        exclude = super()._get_validation_exclusions()
        if self.instance.tenant_id is not None and "tenant" not in self._errors:
            exclude.discard("tenant")
        exclude.discard("alive")
        return exclude


class TenantModelForm(TenantFormMixin, forms.ModelForm):
    """A model form for tenant-owned rows (see ``TenantFormMixin``)."""


class DeletedListFilter(admin.SimpleListFilter):
    """Switch the change list between live rows (default) and the recycle bin."""

    title = _("deleted")
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("1", _("Deleted (recycle bin)"))]

    def choices(self, changelist):
        for choice in super().choices(changelist):
            if choice["display"] == _("All"):
                choice["display"] = _("Live")
            yield choice

    def queryset(self, request, queryset):
        # TenantScopedAdmin.get_queryset already chose live or deleted rows.
        return queryset


def owned_by_tenant(model) -> bool:
    """Return whether ``model``'s rows each belong to one tenant (a ``tenant`` column)."""
    return any(field.name == "tenant" and field.many_to_one
               for field in model._meta.concrete_fields)


def with_tenant(obj) -> str:
    """Return ``obj`` named with its tenant, for a choice that spans tenants."""
    return f"{obj} · {obj.tenant}"


class TenantAutocompleteJsonView(AutocompleteJsonView):
    """The admin's autocomplete for a platform operator, whose pickers span tenants: each
    choice is named with its tenant, and a form that has chosen its tenant (its picker
    sends ``tenant``, static/js/admin-tenant-pickers.js) is offered that tenant's rows only.
    Anybody else's pickers hold their own tenant's rows already (the managers)."""

    def spans_tenants(self) -> bool:
        return is_operator(self.request) and owned_by_tenant(self.model_admin.model)

    def get_queryset(self):
        queryset = super().get_queryset()
        if not self.spans_tenants():
            return queryset
        chosen = self.request.GET.get("tenant", "")
        if chosen:
            try:
                queryset = queryset.filter(tenant_id=uuid.UUID(chosen))
            except ValueError:
                return queryset.none()
        return queryset.select_related("tenant")

    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        if self.spans_tenants():
            result["text"] = with_tenant(obj)
        return result


class TenantLabelledFilter(admin.RelatedFieldListFilter):
    """A list filter by a tenant-owned relation whose choices (an operator's, spanning
    tenants) are named with their tenant and grouped by it: three tenants' "Manager"
    positions are three choices that say whose they are."""

    def field_choices(self, field, request, model_admin):
        related = field.related_model._default_manager.select_related("tenant").order_by(
            "tenant__name", *field.related_model._meta.ordering)
        return [(obj.pk, with_tenant(obj)) for obj in related]


class TenantScopedAdmin(admin.ModelAdmin):
    """Base admin of every tenant-owned model (see the module docstring)."""

    form = TenantModelForm
    tenant_field = "tenant"

    @property
    def media(self):
        # An operator's add form: the pickers follow the tenant chosen.
        return super().media + forms.Media(js=["js/admin-tenant-pickers.js"])

    def in_recycle_bin(self, request: HttpRequest) -> bool:
        """Return whether the request works on soft-deleted rows (``?deleted=1``).

        A change form opened from the recycle bin carries the change list's filters in
        ``_changelist_filters``, so it finds the deleted row too.
        """
        if not is_soft_deletable(self.model):
            return False
        if request.GET.get("deleted") == "1":
            return True
        preserved = QueryDict(request.GET.get("_changelist_filters", ""))
        return preserved.get("deleted") == "1"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        manager = self.model._default_manager
        if self.in_recycle_bin(request):
            queryset = manager.deleted()
        else:
            queryset = manager.get_queryset()
        # The user's data scope (rbac): rows outside it are not listed and do not open.
        queryset = restrict(queryset, request.user)
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def get_list_display(self, request: HttpRequest):
        list_display = list(super().get_list_display(request))
        if is_operator(request) and self.tenant_field not in list_display:
            # Second, beside the row's name: never the column a narrow screen cuts off.
            list_display.insert(1, self.tenant_field)
        return list_display

    def get_list_select_related(self, request: HttpRequest):
        # The operator's tenant column joins the tenant here, not in get_queryset: a
        # queryset that already has select_related() makes the change list skip
        # list_select_related, which left every other related column one query per row.
        # (False: Django selects every non-null relation when list_display has one, as the
        # operator's tenant column is.)
        related = super().get_list_select_related(request)
        if is_operator(request) and not isinstance(related, bool):
            related = [*related, self.tenant_field]
        return related

    def get_list_filter(self, request: HttpRequest):
        list_filter = list(super().get_list_filter(request))
        if is_operator(request):
            list_filter = [self._labelled(entry) for entry in list_filter]
            list_filter.insert(0, self.tenant_field)
        if is_soft_deletable(self.model):
            list_filter.append(DeletedListFilter)
        return list_filter

    def _labelled(self, entry):
        """Return the list filter ``entry``, by a tenant-owned relation named with tenants."""
        if not isinstance(entry, str) or "__" in entry:
            return entry
        try:
            field = self.model._meta.get_field(entry)
        except FieldDoesNotExist:
            return entry
        if field.many_to_one and owned_by_tenant(field.related_model):
            return (entry, TenantLabelledFilter)
        return entry

    def get_exclude(self, request: HttpRequest, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not is_operator(request) or obj is not None:
            exclude.append(self.tenant_field)
        return exclude

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        named = any(self.tenant_field in options.get("fields", ())
                    for _name, options in fieldsets)
        if is_operator(request) and not named:
            # The tenant heads an operator's form: chosen on an add form, shown on a change
            # form (read-only).
            fieldsets = [(None, {"fields": [self.tenant_field]}), *fieldsets]
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if is_operator(request) and obj is not None:
            readonly.insert(0, self.tenant_field)
        return readonly

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        tenant_field = form.base_fields.get(self.tenant_field)
        if tenant_field is not None:
            tenant_field.required = True
            tenant_field.initial = None
            tenant_field.empty_label = _("Choose a tenant")
        return form

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        if not is_soft_deletable(self.model):
            return actions
        if self.in_recycle_bin(request):
            actions.pop("delete_selected", None)
        else:
            actions.pop("restore_selected", None)
        return actions

    def get_deleted_objects(self, objs, request: HttpRequest):
        if not is_soft_deletable(self.model):
            return super().get_deleted_objects(objs, request)
        objs = list(objs)
        protected = [f"{obj}: {reason}" for obj in objs for reason in obj.soft_delete_blockers()]
        perms_needed = set()
        if not self.has_delete_permission(request):
            perms_needed.add(self.opts.verbose_name)
        return (
            [str(obj) for obj in objs],
            {self.opts.verbose_name_plural: len(objs)},
            perms_needed,
            protected,
        )

    def delete_model(self, request: HttpRequest, obj) -> None:
        self._soft_delete(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self._soft_delete(request, obj)

    def _soft_delete(self, request: HttpRequest, obj) -> None:
        # The confirmation page already showed blockers; one can appear in between (a user
        # added to the department meanwhile), so report it instead of failing the request.
        try:
            obj.delete()
        except ValidationError as exc:
            self.message_user(request, f"{obj}: {'; '.join(exc.messages)}", messages.ERROR)

    def restore_object(self, request: HttpRequest, obj) -> None:
        """Restore one soft-deleted row (an admin whose writes go through a service overrides it)."""
        obj.restore()

    @admin.action(description=_("Restore selected %(verbose_name_plural)s"), permissions=["change"])
    def restore_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Restore soft-deleted rows, reporting the ones a live row now blocks."""
        restored = 0
        for obj in queryset:
            try:
                self.restore_object(request, obj)
            except ValidationError as exc:
                self.message_user(request, f"{obj}: {'; '.join(exc.messages)}", messages.ERROR)
            else:
                self.log_change(request, obj, [{"restored": {}}])
                restored += 1
        if restored:
            self.message_user(
                request,
                ngettext("Restored %(count)d row.", "Restored %(count)d rows.", restored)
                % {"count": restored},
                messages.SUCCESS,
            )

    actions = ["restore_selected"]


class ParentPermissionInline(admin.TabularInline):
    """An inline of association rows, allowed by the parent's permissions.

    Association tables (a role's permissions, a user's roles) are not resources of their
    own: editing them is editing the parent, as Django does for auto-created M2M tables.
    """

    extra = 0

    def _parent_perm(self, request: HttpRequest, action: str) -> bool:
        opts = self.parent_model._meta
        return request.user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._parent_perm(request, "view") or self._parent_perm(request, "change")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._parent_perm(request, "change")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._parent_perm(request, "change")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._parent_perm(request, "change")

    def get_queryset(self, request: HttpRequest):
        # Each row is shown by the names of both ends (``__str__``): read them with it.
        related = [field.name for field in self.model._meta.concrete_fields
                   if field.many_to_one]
        return super().get_queryset(request).select_related(*related)

    def get_formset(self, request: HttpRequest, obj=None, **kwargs):
        # The formset's validation (grant rules) needs to know who is editing.
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"request": request})


class OperatorOnlyAdmin(admin.ModelAdmin):
    """An admin only platform operators may open."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_operator(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_operator(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_operator(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_operator(request) and super().has_delete_permission(request, obj)


@admin.register(Tenant)
class TenantAdmin(OperatorOnlyAdmin):
    """Tenants, for platform operators."""

    list_display = ["code", "name", "status", "plan", "package", "expires_on", "user_quota",
                    "created_at"]
    list_filter = ["status", "plan", "package"]
    search_fields = ["code", "name"]
    readonly_fields = ["created_at", "updated_at", "created_by", "updated_by"]
    fieldsets = [
        (None, {"fields": ["code", "name", "status", "plan", "description"]}),
        (_("Subscription"), {"fields": ["package", "expires_on", "user_quota", "settings"]}),
        (_("Network"), {"fields": ["outbound_networks"]}),
        (_("Record"), {"fields": readonly_fields}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("created_by", "updated_by")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Tenants are deactivated, never deleted: their rows PROTECT them, and the
        # platform tenant holds the operators.
        return False


# Dictionaries (issue 3, item 5). Their imports sit with them: this block was appended to a
# module shared with other work.
from django.db.models import Count, Q  # noqa: E402

from tenants.models import Dictionary, DictionaryItem  # noqa: E402


class DictionaryItemForm(TenantFormMixin, forms.ModelForm):
    """One item row of a dictionary's page."""

    class Meta:
        model = DictionaryItem
        fields = ["label", "value", "sort_order", "status", "is_default"]


class DictionaryItemFormSet(forms.BaseInlineFormSet):
    """Item rows that belong to their dictionary's tenant.

    A new row takes the dictionary's tenant as soon as it is built, before validation, so
    that the same-tenant check and the uniqueness of values run against that tenant and the
    row is saved in it. This matters for an operator, whose scope names no tenant: the
    dictionary's tenant is the one chosen in the form.
    """

    def add_fields(self, form, index) -> None:
        """Add the row's fields, and give a new row the dictionary's tenant."""
        super().add_fields(form, index)
        if form.instance._state.adding:
            form.instance.tenant_id = self.instance.tenant_id

    def get_unique_error_message(self, unique_check) -> str:
        """Return the constraint's own message for values repeated in the post.

        Django's message lists the constraint's fields, which here would name the internal
        ``tenant`` and ``alive`` columns.
        """
        for constraint in self.model._meta.constraints:
            if tuple(getattr(constraint, "fields", ())) == tuple(unique_check):
                return constraint.get_violation_error_message()
        return super().get_unique_error_message(unique_check)


class DictionaryItemInline(admin.TabularInline):
    """The items of a dictionary, edited on its page."""

    model = DictionaryItem
    form = DictionaryItemForm
    formset = DictionaryItemFormSet
    fields = ["label", "value", "sort_order", "status", "is_default"]
    extra = 1


@admin.register(Dictionary)
class DictionaryAdmin(TenantScopedAdmin):
    """A tenant's dictionaries with their items (seed 000 sections 3.11-3.12)."""

    list_display = ["type", "name", "status", "item_count", "updated_at"]
    list_filter = ["status"]
    search_fields = ["type", "name"]
    ordering = ["type"]
    fieldsets = [(None, {"fields": ["type", "name", "status", "description"]})]
    inlines = [DictionaryItemInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Return the scoped dictionaries, counting their live items."""
        return (
            super()
            .get_queryset(request)
            .annotate(live_item_count=Count("items", filter=Q(items__is_deleted=False)))
        )

    @admin.display(description=_("items"), ordering="live_item_count")
    def item_count(self, obj: Dictionary) -> int:
        """Return how many live items the dictionary has."""
        return obj.live_item_count
