"""The accounts app's REST API, and API-key authentication for the whole API."""
