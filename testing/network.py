"""The network policy of testers' outbound connections (``TESTING.md``, "Network policy").

One policy for a tenant: the platform-wide networks of ``OUTBOUND_ALLOWED_NETWORKS``
(development allows loopback), the tenant's own networks set by an operator
(``Tenant.outbound_networks``), and the platform's own service endpoints refused unless
``OUTBOUND_ALLOWED_SERVICE_ENDPOINTS`` names them. Link-local and cloud metadata
addresses are refused whatever the lists say (``core.outbound``).
"""

from __future__ import annotations

from django.conf import settings

from core.outbound import Policy, parse_networks, service_endpoints
from tenants.models import Tenant


def policy_for(tenant: Tenant) -> Policy:
    """Return the outbound policy of ``tenant``'s tests."""
    networks = tuple(settings.OUTBOUND_ALLOWED_NETWORKS) + tuple(tenant.outbound_networks or ())
    return Policy(
        allowed_networks=parse_networks(tuple(n.strip() for n in networks)),
        refused_endpoints=service_endpoints(tuple(settings.OUTBOUND_ALLOWED_SERVICE_ENDPOINTS)),
    )
