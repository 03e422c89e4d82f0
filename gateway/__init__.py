"""The MCP gateway. So far: the API endpoint registry (issue 3, item 8; seed 000 section 3.13).

* ``models.ApiEndpoint``: one row per route and method of /api/v1/, platform-wide.
* ``registry``: ``collect_routes`` (drf-spectacular's schema plus each view's permission
  code), ``sync_endpoints`` (run after every ``migrate`` and by ``manage.py
  sync_endpoints``); a route that declares no permission code fails the sync.
* ``enforcement``: ``EndpointRegistryMixin``, in the bases of every API view: a disabled
  route answers 404, an API key must hold the route's required scopes.
* ``admin`` and ``api``: operators switch routes (``is_enabled``, ``required_scopes``);
  tenants may read the registry when their package grants ``endpoint:view``.
"""
