"""Retention of runs (seed 001 sections 3.16 and 6.5), in two tiers.

* **Details**: the step results of a run (requests, responses, checks, variables) are kept
  ``TEST_REPORT_RETENTION_DAYS`` (30) after the run ended, or the project's own
  ``report_retention_days``. Then they are deleted, with the run's stored allure-results
  (``allure_report_path``), and the execution is marked ``details_pruned_at``: its page
  and reports still show the summary.
* **Summary**: the execution and its scenario runs (counts, durations, statuses: what the
  history charts read) are kept ``TEST_RUN_SUMMARY_RETENTION_DAYS`` (365), then deleted.

Runs that have not ended are never touched. The work is platform work across tenants, done
tenant by tenant on the ``(tenant, completed_at)`` index, in writing statements of at most
``TESTING_PRUNE_BATCH`` rows and at most ``TESTING_PRUNE_MAX_BATCHES`` of them per call, so
a backlog drains over several beats without long locks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from tenants.models import Tenant
from testing.models import Execution, Project, StepResult
from testing.reports import allure


@dataclass
class Pruned:
    """What one call removed, and whether work is left for the next one."""

    step_results: int = 0
    allure_files: int = 0
    executions_marked: int = 0
    executions: int = 0
    statements: int = 0
    more: bool = False

    def as_data(self) -> dict:
        return {"step_results": self.step_results, "allure_files": self.allure_files,
                "executions_marked": self.executions_marked,
                "executions": self.executions, "statements": self.statements,
                "more": self.more}


class _Budget:
    def __init__(self, statements: int) -> None:
        self.left = statements

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


def _detail_cutoffs(tenant: Tenant, now: datetime) -> tuple[datetime, dict]:
    """Return the tenant's default cutoff and the cutoffs of its projects that set their own."""
    default = now - timedelta(days=settings.TEST_REPORT_RETENTION_DAYS)
    own = {pk: now - timedelta(days=days) for pk, days in
           Project.objects.all_tenants(include_deleted=True)
           .filter(tenant=tenant, report_retention_days__isnull=False)
           .values_list("pk", "report_retention_days")}
    return default, own


def _ended_before(tenant: Tenant, default: datetime, own: dict):
    """Return the tenant's executions whose details are past their cutoff."""
    executions = Execution.objects.all_tenants(include_deleted=True).filter(tenant=tenant)
    query = executions.filter(completed_at__lt=default).exclude(project_id__in=list(own))
    for project_id, cutoff in own.items():
        query = query | executions.filter(project_id=project_id, completed_at__lt=cutoff)
    return query


def _remove_stored(expired, budget: _Budget, pruned: Pruned) -> bool:
    """Remove the stored allure-results of ``expired`` executions, a batch of executions
    per statement; return False when the budget ran out first."""
    stored = expired.exclude(allure_report_path="")
    while True:
        batch = list(stored.values_list("pk", "allure_report_path")[
            :settings.TESTING_PRUNE_BATCH])
        if not batch:
            return True
        if not budget.take():
            pruned.more = True
            return False
        for _pk, where in batch:
            pruned.allure_files += allure.remove(where)
        Execution.objects.all_tenants(include_deleted=True).filter(
            pk__in=[pk for pk, _where in batch]).update(allure_report_path="")
        pruned.statements += 1


def _prune_details(tenant: Tenant, now: datetime, budget: _Budget, pruned: Pruned) -> None:
    default, own = _detail_cutoffs(tenant, now)
    expired = _ended_before(tenant, default, own)
    batch = settings.TESTING_PRUNE_BATCH
    if not _remove_stored(expired, budget, pruned):
        return
    while True:
        ids = list(StepResult.objects.all_tenants()
                   .filter(tenant=tenant, execution__in=expired.values("pk"))
                   .values_list("pk", flat=True)[:batch])
        if not ids:
            break
        if not budget.take():
            pruned.more = True
            return
        deleted, _by_model = StepResult.objects.all_tenants().filter(pk__in=ids).hard_delete()
        pruned.step_results += deleted
        pruned.statements += 1
    # Every detail of these executions is gone: say so on the execution.
    unmarked = expired.filter(details_pruned_at__isnull=True)
    if not unmarked.exists():
        return
    if not budget.take():
        pruned.more = True
        return
    remaining = StepResult.objects.all_tenants().filter(execution=OuterRef("pk"))
    pruned.statements += 1
    pruned.executions_marked += unmarked.exclude(Exists(remaining)).update(
        details_pruned_at=now)


def _prune_summaries(tenant: Tenant, now: datetime, budget: _Budget, pruned: Pruned) -> None:
    cutoff = now - timedelta(days=settings.TEST_RUN_SUMMARY_RETENTION_DAYS)
    batch = settings.TESTING_PRUNE_BATCH
    expired = Execution.objects.all_tenants(include_deleted=True).filter(
        tenant=tenant, completed_at__lt=cutoff)
    if not _remove_stored(expired, budget, pruned):
        return
    while True:
        ids = list(expired.values_list("pk", flat=True)[:batch])
        if not ids:
            return
        # A run still holding more step results than a batch sheds them first.
        results = StepResult.objects.all_tenants().filter(execution_id__in=ids)
        while True:
            result_ids = list(results.values_list("pk", flat=True)[:batch])
            if not result_ids:
                break
            if not budget.take():
                pruned.more = True
                return
            deleted, _by_model = StepResult.objects.all_tenants().filter(
                pk__in=result_ids).hard_delete()
            pruned.step_results += deleted
            pruned.statements += 1
        if not budget.take():
            pruned.more = True
            return
        deleted, by_model = Execution.objects.all_tenants(include_deleted=True).filter(
            pk__in=ids).hard_delete()
        pruned.executions += by_model.get(Execution._meta.label, 0)
        pruned.statements += 1


def prune(now: datetime | None = None) -> Pruned:
    """Apply the retention policy to every tenant's ended runs; return what was removed."""
    now = now or timezone.now()
    budget = _Budget(settings.TESTING_PRUNE_MAX_BATCHES)
    pruned = Pruned()
    for tenant in Tenant.objects.order_by("pk"):
        _prune_summaries(tenant, now, budget, pruned)
        if pruned.more:
            break
        _prune_details(tenant, now, budget, pruned)
        if pruned.more:
            break
    return pruned
