"""The Celery application.

Tasks are discovered from every installed app's ``tasks.py`` and run on
``tenants.celery.TenantAwareTask``, which carries the tenant in the message. Delivery is
at-least-once: a task is acknowledged after it finishes (``acks_late``), requeued if its
worker dies (``task_reject_on_worker_lost``), and each worker process reserves one message
at a time (prefetch 1). The broker's visibility timeout outlives the longest task
(``config.checks`` enforces it), so a running task is never handed to a second worker.

With no broker configured the broker is kombu's filesystem transport under ``var/``: a real
worker and beat run without any server.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("atrium", task_cls="tenants.celery:TenantAwareTask")


def broker_transport_options(broker_url: str) -> dict:
    """Return the kombu transport options of ``broker_url`` as the settings configure them.

    Every transport gets the visibility timeout; the filesystem transport also gets its
    queue folders under ``CELERY_BROKER_FOLDER``, which are created here.
    """
    from django.conf import settings

    options: dict = {"visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT}
    if broker_url.startswith("filesystem://"):
        folder = settings.CELERY_BROKER_FOLDER
        (folder / "out").mkdir(parents=True, exist_ok=True)
        (folder / "processed").mkdir(parents=True, exist_ok=True)
        (folder / "control").mkdir(parents=True, exist_ok=True)
        options.update(
            {
                "control_folder": str(folder / "control"),
                "data_folder_in": str(folder / "out"),
                "data_folder_out": str(folder / "out"),
                "processed_folder": str(folder / "processed"),
                "store_processed": False,
            }
        )
    return options


def _configure(app: Celery) -> None:
    from django.conf import settings

    transport_options = broker_transport_options(settings.CELERY_BROKER_URL)
    result_backend = settings.CELERY_RESULT_BACKEND
    if result_backend and result_backend.startswith("file://"):
        # Celery's file backend expects its folder to exist.
        Path(result_backend[len("file://"):]).mkdir(parents=True, exist_ok=True)
    app.conf.update(
        broker_url=settings.CELERY_BROKER_URL,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        result_backend=result_backend,
        result_expires=24 * 3600,  # seconds
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.CELERY_TASK_TIME_LIMIT,
        task_soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        timezone=settings.TIME_ZONE,
        enable_utc=True,
        beat_schedule_filename=str(settings.CELERY_BEAT_SCHEDULE_FILE),
        beat_schedule=settings.CELERY_BEAT_SCHEDULE,
        worker_hijack_root_logger=False,
    )


@app.on_configure.connect
def _on_configure(sender: Celery, **kwargs) -> None:
    _configure(sender)


@worker_process_init.connect
def _freeze_start_up_objects(**kwargs) -> None:
    """Leave the objects of start-up (modules, settings, URL conf) out of every later
    garbage collection: a test run allocates many containers, and each full collection
    walked them all (about 140 ms per 1,000-step run; ``bench/engine.py``)."""
    gc.freeze()


app.autodiscover_tasks()
