"""The API machinery below every app: the one error format, parsing, pagination."""
