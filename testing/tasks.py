"""Celery tasks of the test domain: one task per scenario run, the heartbeat watchdog, and
the retention of runs."""

from __future__ import annotations

from celery import shared_task

from testing.services import runs


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_scenario_run(run_id: str) -> str | None:
    """Run one scenario run (or continue it from its checkpoint); return its status."""
    return runs.execute_run(run_id)


@shared_task(tenant_scoped=False)
def recover_runs() -> list[str]:
    """Send again the scenario runs whose worker stopped beating."""
    return runs.recover_runs()


@shared_task(tenant_scoped=False)
def prune_runs() -> dict:
    """Apply the retention policy of runs (testing.services.retention) in bounded batches."""
    from testing.services import retention

    return retention.prune().as_data()


@shared_task(tenant_scoped=False)
def fire_schedules() -> list[dict]:
    """Start the plans whose schedules are due, each in its own tenant (Celery beat)."""
    from testing.services import schedules

    return schedules.fire_due()


@shared_task
def store_run_results(execution_id: str) -> str:
    """Store an ended run's Allure results where its ``allure_report_path`` points."""
    from testing.services import runs

    return runs.store_results(execution_id)


@shared_task
def announce_run(execution_id: str) -> dict:
    """Tell the plan's people and webhook that a run ended (testing.services.notices)."""
    from testing.services import notices

    return notices.announce(execution_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def parse_import(job_id: str) -> str:
    """Read the large file an import keeps, recording its progress (issue 15, item 1)."""
    from testing.services import imports

    return imports.read_waiting(job_id)
