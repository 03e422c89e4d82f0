"""The machinery shared by every app's REST API: errors, pagination, base viewsets, URLs."""
