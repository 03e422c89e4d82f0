"""The accounts app's REST API: API-key authentication and the caller's own profile."""
