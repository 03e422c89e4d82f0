"""The Celery app of the worker processes that ``test_worker_runs`` starts (``-A`` this module).

It is the platform's app (``config.celery``) with two changes. Tasks that the worker sends
itself (``recover_runs`` sending a lost run again, ``advance`` sending the next runs of an
execution) go to the test's own queue, named by ``ATRIUM_TEST_QUEUE``. With the default
queue they would land on the shared Redis database where no test worker reads them. And
the results of its tasks expire after minutes, not the production day: the runs that the
service sends have nobody to read and forget their results.
"""

from __future__ import annotations

import os

from config.celery import app

QUEUE = os.environ.get("ATRIUM_TEST_QUEUE", "")
if not QUEUE:
    raise RuntimeError("ATRIUM_TEST_QUEUE is not set: start this worker from test_worker_runs, "
                       "which names the queue of the test.")
RESULT_EXPIRES = 300  # seconds


@app.on_after_configure.connect
def _use_the_test_queue(sender, **kwargs) -> None:
    # After config.celery's own configuration, which sets result_expires too.
    sender.conf.update(task_default_queue=QUEUE, result_expires=RESULT_EXPIRES)


__all__ = ["app"]
