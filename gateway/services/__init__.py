"""Services of the MCP gateway: tools (create, derive from the registry) and calls."""
