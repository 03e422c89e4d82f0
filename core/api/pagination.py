"""Page-number pagination with a caller-chosen page size, bounded, and what both paginations
of the API say of their links in the OpenAPI document."""

from rest_framework import pagination

LINK_DESCRIPTIONS = {
    "next": "The address of the next page; null on the last page.",
    "previous": "The address of the previous page; null on the first page.",
}


def described_links(schema: dict) -> dict:
    """Return a paginated answer's schema with its ``next``/``previous`` links described,
    their examples null (one page) instead of DRF's ``api.example.org`` addresses, which an
    agent reads as real ones. Every field keeps an example: drf-spectacular builds the
    examples of a paginated answer from them."""
    for name, description in LINK_DESCRIPTIONS.items():
        link = schema["properties"].get(name)
        if link is not None:
            link["example"] = None
            link["description"] = description
    return schema


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=N&page_size=M``; 50 rows by default, at most 200."""

    page_size_query_param = "page_size"
    max_page_size = 200

    def get_paginated_response_schema(self, schema):
        return described_links(super().get_paginated_response_schema(schema))
