"""Telling people a plan's run ended (issue 15, item 5).

When a run of a plan ends (``runs.advance`` sends ``testing.tasks.announce_run`` once its
final state is committed), and the plan says so (``notify_on``: after every run, or only
when one failed):

* a **notification** of the platform (``notifications.services.send_notification``) to the
  plan's users and role holders, with the outcome and the run page's address;
* a **webhook**: a POST of the outcome as JSON to ``webhook_url`` through the guarded
  outbound client (the tenant's network policy: the platform's own services and metadata
  addresses are refused), signed ``X-Atrium-Signature: sha256=<hex HMAC-SHA256 of the
  body with the secret>`` with ``X-Atrium-Timestamp`` (the seconds the body carries too), so
  the receiver checks where it came from and refuses replays. A webhook that fails is
  logged and does not fail the run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.choices import UserStatus
from core.deadlines import TimeBudget
from core.outbound import OutboundError, request
from notifications.models import NotificationAudience, NotificationLevel, NotificationType
from notifications.services import send_notification
from tenants.network import outbound_policy
from testing.choices import NotifyOn, RunKind, RunStatus
from testing.models import Execution

logger = logging.getLogger(__name__)
WEBHOOK_SECONDS = 10.0
SIGNATURE_HEADER = "X-Atrium-Signature"
TIMESTAMP_HEADER = "X-Atrium-Timestamp"


def due(execution: Execution) -> bool:
    """Return whether the end of ``execution`` is to be announced."""
    plan = execution.plan
    if execution.kind != RunKind.PLAN or plan is None or plan.is_deleted:
        return False
    if plan.notify_on == NotifyOn.ALWAYS:
        return True
    return plan.notify_on == NotifyOn.FAILED and execution.status != RunStatus.COMPLETED


def payload(execution: Execution) -> dict:
    """Return what the webhook carries: the run's outcome, no step detail, no secret."""
    path = reverse("testing:run", args=[execution.project_id, execution.pk])
    return {
        "event": "run.finished", "sent_at": int(time.time()),
        "execution": {
            "id": str(execution.pk), "name": execution.name, "status": execution.status,
            "plan": {"id": str(execution.plan_id), "name": execution.plan.name},
            "project": {"id": str(execution.project_id), "name": execution.project.name},
            "scenario_runs": {"total": execution.scenarios_total,
                              "passed": execution.scenarios_passed,
                              "failed": execution.scenarios_failed},
            "steps": {"passed": execution.steps_passed, "failed": execution.steps_failed},
            "error": execution.error,
            "started_at": execution.started_at.isoformat() if execution.started_at else None,
            "completed_at": (execution.completed_at.isoformat()
                             if execution.completed_at else None),
            "page": f"{settings.PLATFORM_BASE_URL.rstrip('/')}{path}",
        },
    }


def signature(secret: str, body: bytes) -> str:
    """Return the header value that signs ``body`` with ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _notify(execution: Execution) -> None:
    plan = execution.plan
    users = list(plan.notify_users.filter(status=UserStatus.ACTIVE)
                 .values_list("pk", flat=True))
    roles = list(plan.notify_roles.values_list("pk", flat=True))
    if not users and not roles:
        return
    failed = execution.status != RunStatus.COMPLETED
    title = (_("Plan %(plan)s: the run failed") if failed
             else _("Plan %(plan)s: the run passed")) % {"plan": plan.name}
    content = _("%(passed)d of %(total)d scenario runs passed in project %(project)s. "
                "%(error)s See %(page)s") % {
        "passed": execution.scenarios_passed, "total": execution.scenarios_total,
        "project": execution.project.name, "error": execution.error,
        "page": payload(execution)["execution"]["page"]}
    if users:
        send_notification(tenant=execution.tenant, title=title[:200], content=content,
                          audience=NotificationAudience.USERS, users=users,
                          type=NotificationType.SYSTEM,
                          level=NotificationLevel.WARNING if failed else NotificationLevel.INFO)
    if roles:
        send_notification(tenant=execution.tenant, title=title[:200], content=content,
                          audience=NotificationAudience.ROLES, roles=roles,
                          type=NotificationType.SYSTEM,
                          level=NotificationLevel.WARNING if failed else NotificationLevel.INFO)


def _webhook(execution: Execution) -> int | None:
    plan = execution.plan
    if not plan.webhook_url:
        return None
    data = payload(execution)
    body = json.dumps(data, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "Atrium-webhook",
               TIMESTAMP_HEADER: str(data["sent_at"])}
    if plan.webhook_secret:
        headers[SIGNATURE_HEADER] = signature(str(plan.webhook_secret), body)
    try:
        answer = request("POST", plan.webhook_url, headers=headers, body=body,
                         budget=TimeBudget(WEBHOOK_SECONDS),
                         policy=outbound_policy(execution.tenant), what="run webhook",
                         credentials=frozenset({SIGNATURE_HEADER.lower()}))
    except OutboundError as exc:
        logger.warning("Run %s: the webhook of plan %s failed: %s", execution.pk,
                       plan.pk, exc)
        return None
    if answer.status >= 400:
        logger.warning("Run %s: the webhook of plan %s answered %d.", execution.pk, plan.pk,
                       answer.status)
    return answer.status


def announce(execution_id) -> dict:
    """Announce the end of one run as its plan asks; return what was done."""
    execution = (Execution.objects.select_related("plan", "project", "tenant")
                 .filter(pk=execution_id).first())
    if execution is None or not execution.is_final or not due(execution):
        return {"notified": False, "webhook": None}
    _notify(execution)
    return {"notified": True, "webhook": _webhook(execution)}
