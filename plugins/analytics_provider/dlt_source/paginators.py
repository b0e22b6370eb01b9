"""Cursor pagination that refuses to loop: a repeated `next_page_token` is an error, not a new page."""

from __future__ import annotations

from typing import Any

from dlt.sources.helpers.rest_client.paginators import BasePaginator, JSONResponseCursorPaginator, SinglePagePaginator
from requests import Response

from analytics_provider.config.model import PaginatorSpec
from analytics_provider.exceptions import AnalyticsApiError


class GuardedCursorPaginator(JSONResponseCursorPaginator):
    """dlt's cursor paginator, plus: a token seen before fails the resource instead of re-reading
    the same pages forever. A null, empty or missing token ends paging, as in dlt."""

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        token = self._next_reference
        if token is None:
            return
        seen: set[Any] = self.__dict__.setdefault("_seen", set())  # dlt's __init__ is not overridden
        if token in seen:
            path = response.request.path_url.split("?")[0] if response.request else response.url
            raise AnalyticsApiError(
                f"GET {path}: the API returned the page token it already returned before "
                f"(after {len(seen)} pages); stopping instead of reading the same pages again",
                status=response.status_code,
                path=path,
            )
        seen.add(token)


def create_paginator(spec: PaginatorSpec) -> BasePaginator:
    if spec.type == "single_page":
        return SinglePagePaginator()
    return GuardedCursorPaginator(cursor_path=spec.cursor_path, cursor_param=spec.cursor_param)
