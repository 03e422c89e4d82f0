"""Retention of runs (testing.services.retention): step details after 30 days (or the
project's own), summaries after a year, in bounded batches, two tenants."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from core.context import tenant_context
from testing import reports
from testing.reports import allure
from testing.models import Execution, ExecutionStep, Project, StepResult
from testing.services import retention, runs
from testing.tasks import prune_runs
from testing.tests import factories as f
from testing.tests.factories import request_step, status_is
from testing.tests.test_runs import start

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_in_process")]


@pytest.fixture
def run_of(django_capture_on_commit_callbacks, target):
    """Return a function running a three-step scenario of ``project`` that ended ``days`` ago."""

    def run(project, days: float) -> Execution:
        env = f.environment(project, f"Local {Execution.objects.all_tenants().count()}",
                            base_url=target.url)
        scenario = f.scenario(project, f"Reads {Execution.objects.all_tenants().count()}")
        for _ in range(3):
            request_step(scenario, "/json", assertions=[status_is(200)])
        execution = start(django_capture_on_commit_callbacks, project.tenant,
                          runs.start_scenario, scenario, environment=env)
        ended = timezone.now() - timedelta(days=days)
        Execution.objects.all_tenants().filter(pk=execution.pk).update(completed_at=ended)
        return execution

    return run


def results_of(execution) -> int:
    return StepResult.objects.all_tenants().filter(execution=execution).count()


def test_details_go_after_30_days_and_the_summary_stays(run_of, project_a):
    old, recent = run_of(project_a, 31), run_of(project_a, 29)
    pruned = retention.prune()
    assert (pruned.step_results, pruned.executions_marked, pruned.more) == (3, 1, False)
    assert results_of(old) == 0 and results_of(recent) == 3
    old = Execution.objects.all_tenants().get(pk=old.pk)
    assert old.details_pruned_at is not None and old.steps_passed == 3
    assert ExecutionStep.objects.all_tenants().filter(execution=old).count() == 1
    with tenant_context(old.tenant):
        report = reports.build(old)
    assert report.counts()["passed"] == 1 and report.runs[0].steps == []
    assert report.details_pruned_at


def test_stored_allure_results_go_with_the_details(run_of, project_a, project_b):
    old, recent, other = run_of(project_a, 31), run_of(project_a, 29), run_of(project_b, 31)
    paths = {e.pk: Execution.objects.all_tenants().get(pk=e.pk).allure_report_path
             for e in (old, recent, other)}
    assert all(allure.stored(where) for where in paths.values())
    pruned = retention.prune()
    assert pruned.allure_files == 2
    assert not allure.stored(paths[old.pk]) and not allure.stored(paths[other.pk])
    assert len(allure.stored(paths[recent.pk])) == 1
    assert Execution.objects.all_tenants().get(pk=old.pk).allure_report_path == ""
    assert Execution.objects.all_tenants().get(pk=recent.pk).allure_report_path


def test_a_project_keeps_details_as_long_as_it_says(run_of, project_a, tenant_a):
    Project.objects.all_tenants().filter(pk=project_a.pk).update(report_retention_days=5)
    other = f.project(tenant_a, "Default retention")
    short, default = run_of(project_a, 10), run_of(other, 10)
    retention.prune()
    assert results_of(short) == 0 and results_of(default) == 3


def test_two_tenants_each_keep_their_own_projects_retention(run_of, project_a, project_b):
    Project.objects.all_tenants().filter(pk=project_a.pk).update(report_retention_days=5)
    a, b = run_of(project_a, 10), run_of(project_b, 10)
    retention.prune()
    assert results_of(a) == 0 and results_of(b) == 3


def test_summaries_go_after_a_year_with_their_runs(run_of, project_a):
    ancient, kept = run_of(project_a, 400), run_of(project_a, 200)
    pruned = retention.prune()
    assert pruned.executions == 1
    assert not Execution.objects.all_tenants(include_deleted=True).filter(
        pk=ancient.pk).exists()
    assert not ExecutionStep.objects.all_tenants().filter(execution_id=ancient.pk).exists()
    assert Execution.objects.all_tenants().filter(pk=kept.pk).exists()


def test_the_work_is_done_in_bounded_batches_across_calls(run_of, project_a, settings,
                                                          django_assert_max_num_queries):
    settings.TESTING_PRUNE_BATCH = 1
    settings.TESTING_PRUNE_MAX_BATCHES = 2
    old = run_of(project_a, 40)
    first = retention.prune()  # the stored allure-results, then one step result
    assert (first.allure_files, first.step_results, first.statements, first.more) == (
        1, 1, 2, True)
    assert results_of(old) == 2
    calls = [retention.prune() for _ in range(2)]
    assert [(c.step_results, c.executions_marked, c.statements, c.more) for c in calls] == [
        (2, 0, 2, True), (0, 1, 1, False)]
    settings.TESTING_PRUNE_MAX_BATCHES = 100
    with django_assert_max_num_queries(20):  # nothing left: a few reads per tenant
        assert retention.prune().statements == 0


def test_a_run_that_has_not_ended_is_never_touched(run_of, project_a):
    running = run_of(project_a, 100)
    Execution.objects.all_tenants().filter(pk=running.pk).update(completed_at=None)
    retention.prune()
    assert results_of(running) == 3


def test_beat_runs_the_task_and_it_reports_what_it_removed(run_of, project_a):
    assert django_settings.CELERY_BEAT_SCHEDULE["prune-test-runs"]["task"] == \
        "testing.tasks.prune_runs"
    run_of(project_a, 31)
    assert prune_runs.delay().get()["step_results"] == 3
