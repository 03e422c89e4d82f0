"""The REST API of the test design domain, under /api/v1/testing/."""
