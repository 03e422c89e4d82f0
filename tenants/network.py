"""The network policy of the platform's outbound connections made for a tenant
(``TESTING.md``, "Network policy"): the API tests' requests and database connections, and
the MCP gateway's external tools.

A tenant's policy allows the platform-wide networks of ``OUTBOUND_ALLOWED_NETWORKS``
(development: ``make run`` allows loopback), the tenant's own networks set by an operator
(``Tenant.outbound_networks``) and any the caller adds (the gateway's
``MCP_OUTBOUND_ALLOWED_NETWORKS``); it refuses the platform's own service endpoints unless
``OUTBOUND_ALLOWED_SERVICE_ENDPOINTS`` names them. Link-local and cloud metadata addresses
are refused whatever the lists say (``core.outbound``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core.outbound import Policy, parse_networks, service_endpoints
from tenants.models import Tenant


def outbound_policy(tenant: Tenant | None, *, networks: tuple[str, ...] = (),
                    **limits: Any) -> Policy:
    """Return the outbound policy of ``tenant`` (``None``: the platform-wide one).

    ``networks`` adds the caller's own allowed networks; ``limits`` sets the other fields of
    ``Policy`` (redirects, response size, CA bundle). Raises ``ValueError`` when a network
    does not parse.
    """
    allowed = (*settings.OUTBOUND_ALLOWED_NETWORKS, *networks,
               *((tenant.outbound_networks or ()) if tenant is not None else ()))
    return Policy(
        allowed_networks=parse_networks(tuple(str(n).strip() for n in allowed)),
        refused_endpoints=service_endpoints(tuple(settings.OUTBOUND_ALLOWED_SERVICE_ENDPOINTS)),
        **limits,
    )
