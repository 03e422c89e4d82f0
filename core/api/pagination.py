"""Page-number pagination with a caller-chosen page size, bounded."""

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=N&page_size=M``; 50 rows by default, at most 200."""

    page_size_query_param = "page_size"
    max_page_size = 200
