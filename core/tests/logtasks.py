"""A task that logs one record, for the tests of structured logs (``test_logjson``).

Not a ``tasks.py``: the platform's workers never load it; the test's worker imports it
with ``--include``.
"""

from __future__ import annotations

import logging

from celery import shared_task

from core.context import current_request_id

logger = logging.getLogger("atrium.test.task")

MESSAGE = "log_context ran"


@shared_task
def log_context(marker: str) -> str | None:
    """Log one record carrying ``marker``; return the request id the task ran with."""
    logger.info("%s %s", MESSAGE, marker, extra={"marker": marker})
    return current_request_id()
