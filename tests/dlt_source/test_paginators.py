"""Cursor pagination that refuses to loop, on real `requests` responses as dlt hands them over."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator

from analytics_provider.config.model import PaginatorSpec
from analytics_provider.dlt_source.paginators import GuardedCursorPaginator, create_paginator
from analytics_provider.exceptions import AnalyticsApiError


def _page(body: dict[str, Any], url: str = "http://api.test/v2/pipeline?org-slug=gh/acme") -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = json.dumps(body).encode()
    response.url = url
    response.request = requests.Request("GET", url).prepare()
    return response


def test_the_spec_paginator_becomes_dlts_cursor_paginator_or_a_single_page() -> None:
    cursor = create_paginator(PaginatorSpec(cursor_param="page[cursor]", cursor_path="page.next"))
    assert isinstance(cursor, GuardedCursorPaginator) and cursor.cursor_param == "page[cursor]"
    assert isinstance(create_paginator(PaginatorSpec(type="single_page")), SinglePagePaginator)


def test_new_tokens_page_on_and_a_null_token_ends_paging() -> None:
    paginator = create_paginator(PaginatorSpec())
    paginator.update_state(_page({"items": [1], "next_page_token": "t1"}))
    assert paginator.has_next_page
    paginator.update_state(_page({"items": [2], "next_page_token": "t2"}))
    assert paginator.has_next_page
    paginator.update_state(_page({"items": [3], "next_page_token": None}))
    assert not paginator.has_next_page


def test_a_token_seen_before_fails_naming_the_path_instead_of_looping() -> None:
    paginator = create_paginator(PaginatorSpec())
    paginator.update_state(_page({"items": [1], "next_page_token": "t1"}))
    paginator.update_state(_page({"items": [2], "next_page_token": "t2"}))
    repeated = r"GET /v2/pipeline: the API returned the page token .* \(after 2 pages\)"
    with pytest.raises(AnalyticsApiError, match=repeated):
        paginator.update_state(_page({"items": [1], "next_page_token": "t1"}))


def test_each_paginator_keeps_its_own_tokens() -> None:
    """Two resources (or two parent keys) may be served the same token: it is no repeat for the other."""
    first, second = create_paginator(PaginatorSpec()), create_paginator(PaginatorSpec())
    first.update_state(_page({"next_page_token": "same"}))
    second.update_state(_page({"next_page_token": "same"}))
    assert first.has_next_page and second.has_next_page
